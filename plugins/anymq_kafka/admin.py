"""Topic and group administration over AIOKafkaAdminClient, plus bounded metadata checks.

One admin client per broker connection; a group-less consumer is started lazily for
offset look-ups (log start / end offsets), which the admin client does not offer.
Known topics and their partition counts are cached for admin calls; producers and consumers
check a topic with :meth:`KafkaAdmin.refresh` when they first use it (the cache may be stale:
another client may have deleted the topic), so a missing topic fails in seconds instead of
after aiokafka's metadata wait.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition  # type: ignore[import-untyped]
from aiokafka import errors as kerr
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # type: ignore[import-untyped]
from aiokafka.admin.config_resource import (  # type: ignore[import-untyped]
    ConfigResource,
    ConfigResourceType,
)
from aiokafka.protocol.commit import OffsetCommitRequest  # type: ignore[import-untyped]
from aiokafka.protocol.metadata import MetadataRequest  # type: ignore[import-untyped]

from anymq.errors import ConfigError, TopicNotFound
from anymq.model import GroupInfo, PartitionLag, Retention, TopicInfo
from anymq_kafka.errors import mapped, start_client, unavailable
from anymq_kafka.options import Settings
from anymq_kafka.tracker import decode_done

#: Kafka >= 4.0 refuses segment.bytes below 1 MiB (KIP-1030); older brokers accept it too.
MIN_SEGMENT_BYTES = 1 << 20
DEFAULT_SEGMENT_MS = 7 * 24 * 3600 * 1000
#: DescribeConfigs config_source values that mean "set on this topic".
_TOPIC_SOURCES = {1}  # DYNAMIC_TOPIC_CONFIG
_UNKNOWN_TOPIC = 3
_RETRIABLE_METADATA = {5, 6}  # LEADER_NOT_AVAILABLE, NOT_LEADER_OR_FOLLOWER
#: OffsetCommit errors for a client outside a group that has members (or is rebalancing):
#: ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS.
_GROUP_HAS_MEMBERS = {22, 25, 27}


def topic_configs(retention: Retention) -> dict[str, str]:
    """Kafka topic configs for a Retention, with segments small enough to delete promptly.

    Kafka deletes whole segments only, so a short retention gets a short ``segment.ms``
    and a small ``retention.bytes`` gets the smallest ``segment.bytes`` every Kafka version
    accepts (1 MiB) plus a time-based roll so small topics still form closed segments.
    """
    configs: dict[str, str] = {}
    if retention.time is not None:
        ms = max(1, int(retention.time / timedelta(milliseconds=1)))
        configs["retention.ms"] = str(ms)
        if ms < DEFAULT_SEGMENT_MS:
            configs["segment.ms"] = str(max(100, ms // 2))
    if retention.bytes is not None:
        configs["retention.bytes"] = str(retention.bytes)
        configs["segment.bytes"] = str(max(MIN_SEGMENT_BYTES, retention.bytes // 4))
        if retention.bytes < 4 * MIN_SEGMENT_BYTES:
            roll = int(configs.get("segment.ms", "1000"))
            configs["segment.ms"] = str(min(roll, 1000))
    return configs


class KafkaAdmin:
    """Admin calls of one broker connection, mapped onto anymq's model and errors."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client: Any = None
        self._offsets: Any = None
        self._offsets_lock = asyncio.Lock()
        self.partitions: dict[str, int] = {}
        """Topics known to exist, with their partition counts."""

    async def start(self) -> None:
        s = self.settings
        kwargs = s.client_kwargs()
        self.client = AIOKafkaAdminClient(**kwargs)
        await start_client(self.client.start(), self._close_quietly, s.hosts, s.connect_timeout)

    async def _close_quietly(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close()

    async def close(self) -> None:
        offsets, self._offsets = self._offsets, None
        if offsets is not None:
            await offsets.stop()
        await self._close_quietly()

    # -- metadata ---------------------------------------------------------------------
    async def _metadata(self, topics: list[str] | None, node: int | None = None) -> dict[str, Any]:
        """MetadataResponse as a dict (from ``node``, else any broker), never creating
        topics, bounded by metadata_timeout."""
        if isinstance(MetadataRequest, list):  # aiokafka < 0.13: one class per version
            request = MetadataRequest[4](topics, False)
        else:
            request = MetadataRequest(topics, allow_auto_topic_creation=False)
        client = self.client._client
        try:
            async with asyncio.timeout(self.settings.metadata_timeout):
                if node is None:
                    node = client.get_random_node()
                if node is None:
                    await client.force_metadata_update()
                    node = client.get_random_node()
                response = await client.send(node, request)
        except TimeoutError as exc:
            raise unavailable(self.settings.hosts, exc, self.settings.metadata_timeout) from exc
        except kerr.KafkaError as exc:
            raise mapped(exc, topic=None, hosts=self.settings.hosts, publishing=False) from exc
        result: dict[str, Any] = response.to_object()
        return result

    async def topic_metadata(self, name: str, node: int | None = None) -> dict[str, Any]:
        """One topic's metadata; TopicNotFound if the broker asked does not know it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.metadata_timeout
        while True:
            [topic] = (await self._metadata([name], node))["topics"]
            code = topic["error_code"]
            if code == _UNKNOWN_TOPIC:
                self.partitions.pop(name, None)
                raise TopicNotFound(name, "kafka")
            leaders_ok = all(p["leader"] >= 0 for p in topic["partitions"])
            if code == 0 and topic["partitions"] and leaders_ok:
                self.partitions[name] = len(topic["partitions"])
                found: dict[str, Any] = topic
                return found
            if code not in (0, *_RETRIABLE_METADATA) or loop.time() > deadline:
                if code == 0:
                    partial: dict[str, Any] = topic
                    return partial
                raise mapped(
                    kerr.for_code(code)(), topic=name, hosts=self.settings.hosts, publishing=False
                )
            await asyncio.sleep(0.05)

    async def require(self, name: str) -> int:
        """The partition count of an existing topic (cached); TopicNotFound if missing."""
        known = self.partitions.get(name)
        if known is not None:
            return known
        return await self.refresh(name)

    async def refresh(self, name: str) -> int:
        """The partition count asked from a broker now, not the cache: another client may
        have deleted the topic since this connection cached it. TopicNotFound if missing."""
        return len((await self.topic_metadata(name))["partitions"])

    # -- topics -----------------------------------------------------------------------
    async def create_topic(
        self, name: str, partitions: int, retention: Retention, options: Mapping[str, Any]
    ) -> bool:
        from anymq_kafka.options import KafkaOptions

        opts = KafkaOptions.parse(options, "topic")
        configs = topic_configs(retention)
        configs.update(opts.configs or {})
        rf = (
            opts.replication_factor
            if "replication_factor" in opts
            else self.settings.replication_factor
        )
        topic = NewTopic(name, partitions, max(rf, 1), topic_configs=configs)
        topic.replication_factor = rf  # -1: the broker's default.replication.factor
        try:
            response = await self.client.create_topics([topic])
        except kerr.KafkaError as exc:
            raise mapped(exc, topic=name, hosts=self.settings.hosts, publishing=False) from exc
        for _topic, code, message, *_ in response.topic_errors:
            if code == 36:  # TOPIC_ALREADY_EXISTS
                return False
            if code:
                error = kerr.for_code(code)
                raise ConfigError(
                    f"Kafka refused to create topic {name!r}: {error.__name__}: {message}"
                )
        await self._wait_ready(name)
        return True

    async def _wait_ready(self, name: str) -> None:
        """Wait until every broker knows the new topic and each partition has a leader
        (bounded). Brokers learn of a new topic a moment apart; asking only one of them
        let the next call, sent to another, fail with TopicNotFound."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(10.0, self.settings.metadata_timeout)
        brokers = self.client._client.cluster.brokers()
        for node in sorted(b.nodeId for b in brokers) or [None]:
            while True:
                try:
                    await self.topic_metadata(name, node)
                    break
                except TopicNotFound:
                    if loop.time() > deadline:
                        raise
                    await asyncio.sleep(0.05)

    async def delete_topic(self, name: str) -> None:
        try:
            response = await self.client.delete_topics([name])
        except kerr.KafkaError as exc:
            raise mapped(exc, topic=name, hosts=self.settings.hosts, publishing=False) from exc
        self.partitions.pop(name, None)
        for _topic, code, *_ in response.topic_error_codes:
            if code == _UNKNOWN_TOPIC:
                raise TopicNotFound(name, "kafka")
            if code:
                raise mapped(
                    kerr.for_code(code)(), topic=name, hosts=self.settings.hosts, publishing=False
                )
        await self._until_gone(name)

    async def _until_gone(self, name: str) -> None:
        """Return once the brokers' metadata no longer lists ``name`` (within
        metadata_timeout). Kafka deletes asynchronously: the controller answers before
        the brokers' metadata caches replay the delete, and a consumer started on another
        connection right then would still find the topic (seen under load with aiokafka
        0.9.0 in CI)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.metadata_timeout
        while loop.time() < deadline:
            [topic] = (await self._metadata([name]))["topics"]
            if topic["error_code"] == _UNKNOWN_TOPIC:
                return
            await asyncio.sleep(0.05)

    async def list_topics(self) -> list[str]:
        topics = (await self._metadata(None))["topics"]
        return [
            t["topic"]
            for t in topics
            if t["error_code"] == 0 and not t["is_internal"] and not t["topic"].startswith("__")
        ]

    async def describe_topic(self, name: str) -> TopicInfo:
        meta = await self.topic_metadata(name)
        configs = await self._topic_configs(name)
        parts = sorted(meta["partitions"], key=lambda p: p["partition"])

        def override(key: str) -> int | None:
            value, source = configs.get(key, ("-1", 0))
            if source not in _TOPIC_SOURCES or value is None or int(value) < 0:
                return None
            return int(value)

        ms = override("retention.ms")
        retention = Retention(
            time=timedelta(milliseconds=ms) if ms else None, bytes=override("retention.bytes")
        )
        return TopicInfo(
            name=name,
            partitions=len(parts),
            retention=retention,
            details={
                "replication_factor": len(parts[0]["replicas"]) if parts else 0,
                "leaders": [p["leader"] for p in parts],
                "replicas": [list(p["replicas"]) for p in parts],
                "isr": [list(p["isr"]) for p in parts],
                "configs": {k: v for k, (v, _src) in configs.items()},
            },
        )

    async def _topic_configs(self, name: str) -> dict[str, tuple[str | None, int]]:
        wanted = {
            "retention.ms": None,
            "retention.bytes": None,
            "segment.ms": None,
            "segment.bytes": None,
            "max.message.bytes": None,
            "min.insync.replicas": None,
            "cleanup.policy": None,
        }
        try:
            [response] = await self.client.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, name, wanted)]
            )
        except kerr.KafkaError as exc:
            raise mapped(exc, topic=name, hosts=self.settings.hosts, publishing=False) from exc
        out: dict[str, tuple[str | None, int]] = {}
        for resource in response.to_object()["resources"]:
            if resource["error_code"] == _UNKNOWN_TOPIC:
                raise TopicNotFound(name, "kafka")
            for entry in resource["config_entries"]:
                source = entry.get("config_source")
                if source is None:  # v0: is_default instead of a source
                    source = 5 if entry.get("is_default") else 1
                out[entry["config_names"]] = (entry["config_value"], source)
        return out

    # -- offsets and groups -----------------------------------------------------------
    async def offsets_client(self) -> Any:
        """A started group-less consumer used only for ListOffsets requests."""
        async with self._offsets_lock:
            if self._offsets is None:
                consumer = AIOKafkaConsumer(
                    **self.settings.client_kwargs(), enable_auto_commit=False
                )
                await start_client(
                    consumer.start(),
                    consumer.stop,
                    self.settings.hosts,
                    self.settings.connect_timeout,
                )
                self._offsets = consumer
            return self._offsets

    async def log_bounds(self, tps: list[Any]) -> tuple[dict[Any, int], dict[Any, int]]:
        """(log start offsets, end offsets) of the partitions."""
        consumer = await self.offsets_client()
        try:
            async with asyncio.timeout(self.settings.request_timeout_ms / 1000):
                start = await consumer.beginning_offsets(tps)
                end = await consumer.end_offsets(tps)
        except (kerr.KafkaError, TimeoutError) as exc:
            raise mapped(
                exc,
                topic=tps[0].topic if tps else None,
                hosts=self.settings.hosts,
                publishing=False,
            ) from exc
        return start, end

    async def committed(self, group: str, tps: list[Any]) -> dict[Any, Any]:
        """A group's committed offsets and metadata through the public admin API (the
        consumer's path without aiokafka's private coordinator); retries while the
        group coordinator is moving or loading."""
        for attempt in range(10):
            try:
                return await self.client.list_consumer_group_offsets(group, partitions=tps)  # type: ignore[no-any-return]
            except kerr.KafkaError as exc:
                if not getattr(exc, "retriable", False) or attempt == 9:
                    raise
                await asyncio.sleep(0.1 * (attempt + 1))
        raise AssertionError("unreachable")

    async def create_group(self, topic: str, group: str) -> bool:
        """Commit the log end offsets for the group's partitions that have no committed
        offset, so it is durable from now on whichever ``start`` its first member passes;
        False if it had offsets (kept as they are) or has members (they commit their own)."""
        tps = [TopicPartition(topic, p) for p in range(await self.refresh(topic))]
        try:
            committed = await self.committed(group, tps)
        except kerr.KafkaError as exc:
            raise mapped(exc, topic=topic, hosts=self.settings.hosts, publishing=False) from exc
        fresh = [tp for tp in tps if tp not in committed or committed[tp].offset < 0]
        if not fresh:
            return False
        _start, end = await self.log_bounds(fresh)
        committed_now = await self._commit_unjoined(group, {tp: end[tp] for tp in fresh})
        return committed_now and len(fresh) == len(tps)

    async def _commit_unjoined(self, group: str, offsets: dict[Any, int]) -> bool:
        """OffsetCommit as a client outside the group (generation -1), which Kafka accepts
        for a group without members; False if the group has members (they commit their own
        positions). Sent through the admin connection: aiokafka's admin client has no
        offset commit of its own (and 0.9.0 takes the request class by version)."""
        topic = next(iter(offsets)).topic
        entries = [(tp.partition, offset, "") for tp, offset in sorted(offsets.items())]
        args = (group, -1, "", -1, [(topic, entries)])
        request = (
            OffsetCommitRequest[2](*args)
            if isinstance(OffsetCommitRequest, list)
            else OffsetCommitRequest(*args)
        )
        for attempt in range(10):
            try:
                node = await self.client.find_coordinator(group)
                response = await self.client._client.send(node, request)
                codes = [code for _t, parts in response.topics for _p, code in parts]
                error = next((code for code in codes if code), 0)
                if error in _GROUP_HAS_MEMBERS:
                    return False
                if error:
                    raise kerr.for_code(error)()
                return True
            except kerr.KafkaError as exc:
                if not getattr(exc, "retriable", False) or attempt == 9:
                    raise mapped(
                        exc, topic=topic, hosts=self.settings.hosts, publishing=False
                    ) from exc
                await asyncio.sleep(0.1 * (attempt + 1))
        raise AssertionError("unreachable")

    async def list_groups(self, topic: str) -> list[str]:
        """Groups with a committed offset on ``topic``: a consumer commits its starting
        position when it joins and a declared group has the log end, so this is every
        group that consumed from it or was declared. Kafka lists groups, not their topics:
        one offset fetch per consumer group on the cluster (10 at a time)."""
        tps = [TopicPartition(topic, p) for p in range(await self.refresh(topic))]
        try:
            listed = await self._retrying(self.client.list_consumer_groups)
        except kerr.KafkaError as exc:
            raise mapped(exc, topic=topic, hosts=self.settings.hosts, publishing=False) from exc
        gate = asyncio.Semaphore(10)

        async def reads(group: str) -> bool:
            async with gate:
                try:
                    offsets = await self.committed(group, tps)
                except kerr.KafkaError as exc:
                    raise mapped(
                        exc, topic=topic, hosts=self.settings.hosts, publishing=False
                    ) from exc
            return any(meta.offset >= 0 for meta in offsets.values())

        # only groups of the consumer protocol have topic offsets (not Connect workers)
        names = [group for group, protocol in listed if protocol in ("consumer", "")]
        found = await asyncio.gather(*(reads(group) for group in names))
        return [group for group, has in zip(names, found, strict=True) if has]

    async def _retrying(self, call: Any) -> Any:
        """``call()``, again while Kafka says the error is retriable (coordinator moving)."""
        for attempt in range(10):
            try:
                return await call()
            except kerr.KafkaError as exc:
                if not getattr(exc, "retriable", False) or attempt == 9:
                    raise
                await asyncio.sleep(0.1 * (attempt + 1))
        raise AssertionError("unreachable")

    async def describe_group(self, topic: str, group: str) -> GroupInfo:
        count = (await self.topic_metadata(topic))["partitions"]
        tps = [TopicPartition(topic, p) for p in range(len(count))]
        try:
            committed = await self.client.list_consumer_group_offsets(group, partitions=tps)
            described = await self.client.describe_consumer_groups([group])
        except kerr.KafkaError as exc:
            raise mapped(exc, topic=topic, hosts=self.settings.hosts, publishing=False) from exc
        start, end = await self.log_bounds(tps)
        lags: list[PartitionLag] = []
        for tp in tps:
            meta = committed.get(tp)
            position = meta.offset if meta is not None and meta.offset >= 0 else None
            if position is None:
                lags.append(PartitionLag(tp.partition, None, end[tp], 0))
                continue
            first = max(position, start[tp])
            done = sum(1 for o in decode_done(meta.metadata, position) if first <= o < end[tp])
            waiting = max(0, end[tp] - first - done)
            lags.append(PartitionLag(tp.partition, position, end[tp], waiting))
        return GroupInfo(
            topic=topic,
            group=group,
            partitions=tuple(lags),
            members=_member_count(described),
            in_flight=None,
        )


def _member_count(responses: list[Any]) -> int | None:
    for response in responses:
        for group in response.to_object().get("groups", []):
            if group.get("error_code", 0) == 0:
                return len(group.get("members", []))
    return None
