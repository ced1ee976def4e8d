"""The nats:// broker driver: a connection, topics as streams, groups as durable consumers.

A topic is a JetStream stream with limits retention (what is acked stays: an event broker)
whose subjects are ``<topic>.0`` .. ``<topic>.<n-1>``, one per partition. A group is a
durable pull consumer of the stream that its members share; a consumer without a group is
an ephemeral pull consumer from new messages. Offsets are stream sequences.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js import api as js_api

from anymq.backend import (
    BrokerDriver,
    ConsumerDriver,
    ConsumerOptions,
    ProducerDriver,
    ProducerOptions,
)
from anymq.errors import ClosedError, TopicNotFound
from anymq.features import Capabilities, Feature, HeaderRule
from anymq.model import GroupInfo, PartitionLag, Position, Retention, TopicInfo
from anymq.url import URL, address
from anymq_nats import codec
from anymq_nats.errors import (
    BACKEND,
    CONSUMER_EXISTS,
    CONSUMER_NOT_FOUND,
    STREAM_IN_USE,
    code,
    mapped,
)
from anymq_nats.members import bucket_name
from anymq_nats.options import NatsOptions

MAX_PAYLOAD = 1_048_576  # nats-server's default max_payload
MAX_METADATA = 21_500  # JetStream refuses header blocks over 64 KiB; percent-encoding can triple
CAPABILITIES = Capabilities(
    backend=BACKEND,
    features=frozenset(
        {
            Feature.CONSUMER_GROUPS,
            Feature.KEY_ORDERING,
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
            Feature.DEAD_LETTER,
            Feature.NACK_DELAY,
            Feature.RETENTION_TIME,
            Feature.RETENTION_BYTES,
            Feature.RETENTION_MESSAGES,
        }
    ),
    # The value gets what the 64 KiB header block leaves of max_payload.
    max_message_bytes=MAX_PAYLOAD - 65_536 - 1024,
    max_batch=1000,
    max_partitions=256,
    topic_names=codec.NAME_RULE,
    headers=HeaderRule(
        max_metadata_bytes=MAX_METADATA,
        overhead=4,
        metadata_limit="anymq's limit for key + headers on NATS (percent-encoded into the "
        "server's 1 MiB max_payload)",
    ),
)


def deliver_from(position: Position) -> dict[str, Any]:
    """ConsumerConfig fields that start a new consumer at ``position``."""
    if position.kind == "earliest" or (position.kind == "offset" and not position.offset):
        return {"deliver_policy": js_api.DeliverPolicy.ALL}
    if position.kind == "offset":
        return {
            "deliver_policy": js_api.DeliverPolicy.BY_START_SEQUENCE,
            "opt_start_seq": position.offset,
        }
    if position.kind == "timestamp":
        return {
            "deliver_policy": js_api.DeliverPolicy.BY_START_TIME,
            "opt_start_time": position.timestamp,
        }
    return {"deliver_policy": js_api.DeliverPolicy.NEW}


class NatsBroker(BrokerDriver):
    """``nats://[user:password@]host[:port][,host2:port2]``."""

    name = BACKEND
    capabilities = CAPABILITIES
    declared = NatsOptions

    def __init__(self, url: URL, options: Mapping[str, Any]) -> None:
        super().__init__(url, options)
        self.settings = NatsOptions.parse(self.options)
        hosts = url.hosts or (("127.0.0.1", 4222),)
        self.servers = [f"nats://{address(host, port or 4222)}" for host, port in hosts]
        self.address = ",".join(s.removeprefix("nats://") for s in self.servers)
        self.nc: Client | None = None
        self._js: JetStreamContext | None = None

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise ClosedError("broker is closed")
        return self._js

    async def start(self) -> None:
        url, timeout = self.url, self.settings.connect_timeout

        async def quiet(exc: Exception) -> None:  # nats-py's default error_cb logs tracebacks
            pass

        try:
            async with asyncio.timeout(timeout + 1):
                self.nc = await nats.connect(
                    servers=self.servers,
                    user=url.username,
                    password=url.password,
                    connect_timeout=timeout,
                    allow_reconnect=True,
                    max_reconnect_attempts=1,  # the first connect: each server twice, then fail
                    reconnect_time_wait=0.5,
                    error_cb=quiet,
                    name="anymq",
                )
        except Exception as exc:
            raise mapped(exc, self.address) from exc
        self.nc.options["max_reconnect_attempts"] = -1  # once connected: reconnect for ever
        self._js = self.nc.jetstream(timeout=timeout)

    async def close(self) -> None:
        nc, self.nc, self._js = self.nc, None, None
        if nc is not None and not nc.is_closed:
            with contextlib.suppress(Exception):
                await nc.close()

    # -- topics ----------------------------------------------------------------------------
    async def create_topic(
        self, name: str, *, partitions: int, retention: Retention, options: Mapping[str, Any]
    ) -> bool:
        settings = NatsOptions.parse(options, "topic", defaults=self.options)
        config = js_api.StreamConfig(
            name=codec.stream_name(name),
            description="anymq topic",
            subjects=codec.subjects(name, partitions),
            retention=js_api.RetentionPolicy.LIMITS,
            max_age=retention.time.total_seconds() if retention.time else None,
            max_bytes=retention.bytes * partitions if retention.bytes else None,
            max_msgs_per_subject=retention.messages or -1,
            storage=js_api.StorageType(settings.storage),
            num_replicas=settings.replicas,
        )
        try:
            await self.js.stream_info(config.name or "")
            return False
        except Exception as exc:
            if code(exc) is None and not isinstance(exc, nats.js.errors.NotFoundError):
                raise mapped(exc, self.address) from exc
        try:
            await self.js.add_stream(config)
        except Exception as exc:
            if code(exc) == STREAM_IN_USE:
                return False
            raise mapped(exc, self.address) from exc
        return True

    async def stream(self, topic: str) -> js_api.StreamInfo:
        """The topic's stream; TopicNotFound if it is missing."""
        try:
            return await self.js.stream_info(codec.stream_name(topic))
        except Exception as exc:
            raise mapped(exc, self.address, topic=topic) from exc

    async def delete_topic(self, name: str) -> None:
        stream = codec.stream_name(name)
        with contextlib.suppress(Exception):  # the groups' member buckets go with the topic
            for group in await self._consumers(name):
                await self.js.delete_key_value(bucket_name(stream, group))
        try:
            await self.js.delete_stream(stream)
        except Exception as exc:
            raise mapped(exc, self.address, topic=name) from exc

    async def describe_topic(self, name: str) -> TopicInfo:
        info = await self.stream(name)
        config, state = info.config, info.state
        partitions = len(config.subjects or ())
        per_subject = config.max_msgs_per_subject or -1
        retention = Retention(
            time=timedelta(seconds=config.max_age) if config.max_age else None,
            bytes=max(config.max_bytes or 0, 0) // partitions or None,
            messages=per_subject if per_subject > 0 else None,
        )
        details = {
            "stream": config.name,
            "messages": state.messages,
            "bytes": state.bytes,
            "first_seq": state.first_seq,
            "last_seq": state.last_seq,
            "consumers": state.consumer_count,
        }
        return TopicInfo(name=name, partitions=partitions, retention=retention, details=details)

    async def list_topics(self) -> list[str]:
        try:
            infos = await self.js.streams_info()
        except Exception as exc:
            raise mapped(exc, self.address) from exc
        out = []
        for info in infos:  # only streams shaped like anymq's topics
            topic = codec.topic_name(info.config.name or "")
            parts = info.config.subjects or []
            if parts and parts == codec.subjects(topic, len(parts)):
                out.append(topic)
        return sorted(out)

    # -- groups ----------------------------------------------------------------------------
    async def ensure_group(self, topic: str, group: str, start: Position, ack_wait: float) -> bool:
        """The group's durable consumers, one per partition, each created at ``start`` if it
        is missing (True if the first one was new); existing ones are left as they are. The
        one place a group comes to exist."""
        info = await self.stream(topic)
        stream = info.config.name or ""
        created = False
        for p, subject in enumerate(info.config.subjects or ()):
            durable = codec.partition_durable(group, p)
            try:
                await self.js.consumer_info(stream, durable)
                continue
            except Exception as exc:
                if code(exc) != CONSUMER_NOT_FOUND:
                    raise mapped(exc, self.address, topic=topic) from exc
            config = js_api.ConsumerConfig(
                durable_name=durable,
                filter_subject=subject,
                ack_policy=js_api.AckPolicy.EXPLICIT,
                ack_wait=ack_wait,
                max_deliver=-1,
                max_ack_pending=-1,
                **deliver_from(start),
            )
            try:
                await self.js.add_consumer(stream, config)
            except Exception as exc:
                if code(exc) == CONSUMER_EXISTS:
                    continue  # another member created it meanwhile
                raise mapped(exc, self.address, topic=topic) from exc
            created = created or p == 0
        return created

    async def create_group(self, topic: str, group: str) -> bool:
        return await self.ensure_group(topic, group, Position.latest(), self.settings.ack_wait)

    async def _consumers(self, topic: str) -> dict[str, list[js_api.ConsumerInfo]]:
        """The stream's partition consumers by group."""
        try:
            infos = await self.js.consumers_info(codec.stream_name(topic))
        except Exception as exc:
            raise mapped(exc, self.address, topic=topic) from exc
        out: dict[str, list[js_api.ConsumerInfo]] = {}
        for info in infos:
            group = codec.group_of(info.config.durable_name or "")
            if group is not None:
                out.setdefault(group, []).append(info)
        return out

    async def list_groups(self, topic: str) -> list[str]:
        await self.stream(topic)
        return sorted(await self._consumers(topic))

    async def describe_group(self, topic: str, group: str) -> GroupInfo:
        info = await self.stream(topic)
        end = (info.state.last_seq or 0) + 1
        found = (await self._consumers(topic)).get(group)
        if not found:
            lag = PartitionLag(partition=None, committed=None, end=end, lag=info.state.messages)
            return GroupInfo(topic=topic, group=group, partitions=(lag,), members=0)
        waiting = sum(i.num_pending or 0 for i in found)
        in_flight = sum(i.num_ack_pending or 0 for i in found)
        floor = min((i.ack_floor.stream_seq or 0) if i.ack_floor else 0 for i in found)
        lag = PartitionLag(
            partition=None, committed=(floor or 0) + 1, end=end, lag=waiting + in_flight
        )
        return GroupInfo(topic=topic, group=group, partitions=(lag,), in_flight=in_flight)

    # -- clients ---------------------------------------------------------------------------
    def producer(self, options: ProducerOptions) -> ProducerDriver:
        from anymq_nats.producer import NatsProducer

        return NatsProducer(self, options)

    def consumer(self, options: ConsumerOptions) -> ConsumerDriver:
        from anymq_nats.consumer import NatsConsumer

        return NatsConsumer(self, options)

    def need_topic(self, topic: str) -> TopicNotFound:
        return TopicNotFound(topic, BACKEND)
