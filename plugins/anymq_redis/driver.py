"""The redis:// broker driver: topics as partitioned streams, groups as consumer groups.

Redis Streams keep what was consumed (an event broker, like Kafka): a group is a consumer
group created on every partition's stream, an ack is XACK, and the history stays until
retention trims it. Producers and consumers live in :mod:`anymq_redis.producer` and
:mod:`anymq_redis.consumer`; :mod:`anymq_redis.streams` names every key.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from redis import exceptions as rx
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from anymq.backend import (
    BrokerDriver,
    ConsumerDriver,
    ConsumerOptions,
    ProducerDriver,
    ProducerOptions,
)
from anymq.errors import ConfigError, TopicNotFound
from anymq.features import Capabilities, Feature, HeaderRule
from anymq.model import GroupInfo, PartitionLag, Position, Retention, TopicInfo
from anymq.url import URL
from anymq_redis import streams as keys
from anymq_redis.errors import errors
from anymq_redis.options import RedisOptions

CAPABILITIES = Capabilities(
    backend=keys.BACKEND,
    features=frozenset(
        {
            Feature.CONSUMER_GROUPS,
            Feature.FAN_OUT,
            Feature.BROADCAST,
            Feature.DURABLE_GROUPS,
            Feature.DECLARED_GROUPS,
            Feature.LIST_GROUPS,
            Feature.RETAINS_CONSUMED,
            Feature.REPLAY,
            Feature.SEEK_TIME,
            Feature.PARTITIONS,
            Feature.ROUND_ROBIN,
            Feature.KEY_ORDERING,
            Feature.DEAD_LETTER,
            Feature.RETENTION_TIME,
            Feature.RETENTION_MESSAGES,
            Feature.NACK_DELAY,
        }
    ),
    max_message_bytes=1_048_576,  # anymq's limit (a Redis string takes up to 512 MB)
    max_batch=10_000,
    max_partitions=1024,
    headers=HeaderRule(max_metadata_bytes=1_048_576),
)


async def create_group(client: Redis, meta: keys.TopicMeta, group: str, start: Position) -> bool:
    """The group on every partition's stream at ``start``; False if it was there (its
    position stays). The one place a group is made: a consumer's start and create_group."""
    created = False
    for p, name in enumerate(meta.streams):
        try:
            await client.xgroup_create(name, group, keys.position_id(start, p))
            created = created or p == 0
        except rx.ResponseError as exc:
            if "BUSYGROUP" in str(exc):
                continue
            if "requires the key to exist" in str(exc):
                raise TopicNotFound(meta.name, keys.BACKEND) from exc
            raise
    return created


async def backlog(client: Redis, name: str, group: str) -> tuple[int, int]:
    """(entries the group has not read + read but unacked, of which unacked) on a stream."""
    found = next((g for g in await client.xinfo_groups(name) if g["name"] == group.encode()), None)
    if found is None:
        return 0, 0
    pending = int(found["pending"])
    lag = found.get("lag")
    if lag is None:  # Redis cannot tell after a SETID or XDEL: count what follows
        lag, start = 0, b"(" + found["last-delivered-id"]
        while batch := await client.xrange(name, start, "+", count=1000):
            lag += len(batch)
            start = b"(" + batch[-1][0]
    return int(lag) + pending, pending


class RedisBroker(BrokerDriver):
    """``redis://[user:password@]host[:port][/db]`` (``rediss://`` for TLS)."""

    name = keys.BACKEND
    capabilities = CAPABILITIES
    declared = RedisOptions

    def __init__(self, url: URL, options: Mapping[str, Any]) -> None:
        super().__init__(url, options)
        self.settings = RedisOptions.parse(self.options)
        if len(url.hosts) > 1:
            raise ConfigError("redis:// takes one host:port (Redis Cluster is not supported)")
        db = url.path.strip("/") or "0"
        if not db.isdigit():
            raise ConfigError(f"the path of a redis:// URL is a database number, got {db!r}")
        self.where = (url.host or "127.0.0.1", url.port or 6379)
        timeout = self.settings.connect_timeout
        self.client: Redis = Redis(
            host=self.where[0],
            port=self.where[1],
            db=int(db),
            username=url.username,
            password=url.password,
            ssl=url.scheme == "rediss",
            socket_connect_timeout=timeout,
            socket_timeout=timeout + keys.BLOCK,  # a blocking read waits BLOCK at most
            retry=Retry(NoBackoff(), 0),  # anymq's caller decides about retries
        )

    async def start(self) -> None:
        with errors(self.where):
            try:
                await self.client.ping()  # type: ignore[misc]
            except BaseException:
                await self.client.aclose()
                raise

    async def close(self) -> None:
        with contextlib.suppress(rx.RedisError):
            await self.client.aclose()

    async def create_topic(
        self, name: str, *, partitions: int, retention: Retention, options: Mapping[str, Any]
    ) -> bool:
        settings = RedisOptions.parse(options, "topic", defaults=self.options)
        meta = keys.TopicMeta(
            name,
            partitions,
            retention.messages,
            None if retention.time is None else int(retention.time.total_seconds() * 1000),
            settings.approximate_trim,
        )
        with errors(self.where):
            if not await self.client.hsetnx(keys.registry(name), "partitions", str(partitions)):  # type: ignore[misc]
                return False
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.hset(keys.registry(name), mapping=meta.record())
                pipe.sadd(keys.TOPICS, name)
                for stream in meta.streams:  # an empty stream: a group made on it at once
                    pipe.xgroup_create(stream, "anymq-init", "$", mkstream=True)
                    pipe.xgroup_destroy(stream, "anymq-init")
                await pipe.execute()
        return True

    async def delete_topic(self, name: str) -> None:
        with errors(self.where):
            meta = await keys.load(self.client, name)
            doomed = [keys.registry(name), *meta.streams]
            for pattern in (keys.roster(name, "*"), keys.lease(name, "*", "*")):  # type: ignore[arg-type]
                doomed += [k async for k in self.client.scan_iter(match=pattern, count=500)]
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.delete(*doomed)
                pipe.srem(keys.TOPICS, name)
                await pipe.execute()

    async def describe_topic(self, name: str) -> TopicInfo:
        with errors(self.where):
            meta = await self._trimmed(name)
            async with self.client.pipeline(transaction=False) as pipe:
                for stream in meta.streams:
                    pipe.xlen(stream)
                lengths = await pipe.execute()
            groups = await self.list_groups(name)
        details = {"streams": meta.streams, "messages": sum(lengths), "groups": sorted(groups)}
        return TopicInfo(name, meta.partitions, meta.retention, details)

    async def _trimmed(self, name: str) -> keys.TopicMeta:
        """The topic's entry, its time retention applied first (Redis has no expiry by age)."""
        meta = await keys.load(self.client, name)
        if meta.max_age_ms is not None:
            async with self.client.pipeline(transaction=False) as pipe:
                meta.trim_age(pipe)
                await pipe.execute()
        return meta

    async def list_topics(self) -> list[str]:
        with errors(self.where):
            return sorted(n.decode() for n in await self.client.smembers(keys.TOPICS))  # type: ignore[misc]

    async def describe_group(self, topic: str, group: str) -> GroupInfo:
        with errors(self.where):
            meta = await self._trimmed(topic)
            lags, in_flight = [], 0
            for p, stream in enumerate(meta.streams):
                waiting, pending = await backlog(self.client, stream, group)
                lags.append(PartitionLag(p, None, None, waiting))
                in_flight += pending
            members = await self.client.zcount(keys.roster(topic, group), keys.now_ms(), "+inf")
        return GroupInfo(topic, group, tuple(lags), members=members, in_flight=in_flight)

    async def create_group(self, topic: str, group: str) -> bool:
        with errors(self.where):
            meta = await keys.load(self.client, topic)
            return await create_group(self.client, meta, group, Position.latest())

    async def list_groups(self, topic: str) -> list[str]:
        with errors(self.where):
            meta = await keys.load(self.client, topic)
            found = await self.client.xinfo_groups(meta.streams[0])
        return [g["name"].decode() for g in found]

    def producer(self, options: ProducerOptions) -> ProducerDriver:
        from anymq_redis.producer import RedisProducer

        return RedisProducer(self, options)

    def consumer(self, options: ConsumerOptions) -> ConsumerDriver:
        from anymq_redis.consumer import RedisConsumer

        return RedisConsumer(self, options)
