"""The rabbitmq backend: ``amqp://user:pass@host:port/vhost`` and ``amqps://``.

Mapping (see docs/backends/rabbitmq.md):

- topic: a durable exchange (topic type by default), recorded in anymq's registry;
- group: the durable queue ``<topic>.<group>`` bound to the exchange, the group's ``.`` and
  ``%`` escaped so no two pairs share it (naming.py; quorum by default, so x-delivery-limit
  dead-letters to ``<topic>.DLT`` and x-delivery-count counts);
- no group: an exclusive auto-delete queue that lives as long as the consumer;
- retention: message TTL / max-length / max-length-bytes of the group queues;
- ``mode=stream``: every topic also gets a stream; groups read it through a pump that
  keeps their position on the broker, so history stays and groups can replay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from anymq.backend import (
    BrokerDriver,
    ConsumerDriver,
    ConsumerOptions,
    ProducerDriver,
    ProducerOptions,
)
from anymq.errors import ConfigError, TopicNotFound
from anymq.features import Capabilities, Feature, NameRule
from anymq.model import GroupInfo, PartitionLag, Retention, TopicInfo
from anymq.url import URL
from anymq_rabbitmq import headers as hdr
from anymq_rabbitmq import topology as topo
from anymq_rabbitmq.connection import Amqp
from anymq_rabbitmq.consumer import QueueConsumer
from anymq_rabbitmq.naming import Names, escape
from anymq_rabbitmq.options import RabbitOptions
from anymq_rabbitmq.producer import RabbitProducer
from anymq_rabbitmq.registry import Doc, Registry
from anymq_rabbitmq.streamgroup import (
    StreamBroadcastConsumer,
    StreamGroupConsumer,
    position_request,
    resolve,
)
from anymq_rabbitmq.streams import (
    OffsetStore,
    OffsetTracker,
    offset_argument,
    offset_of,
    routes,
    scan,
)

NAME_RULE = NameRule(
    r"(?!amq\.)[A-Za-z0-9._:-]{1,200}",
    "1 to 200 characters from A-Z a-z 0-9 . _ : - (not starting with 'amq.')",
)

#: RabbitMQ's own limit is 128 MiB (max_message_size); anymq keeps messages to 16 MiB.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
#: basic.qos prefetch_count is an unsigned 16-bit field.
MAX_PREFETCH = 65535

CLASSIC_FEATURES = frozenset(
    {
        Feature.CONSUMER_GROUPS,
        Feature.FAN_OUT,
        Feature.BROADCAST,
        Feature.DURABLE_GROUPS,
        Feature.DEAD_LETTER,
        Feature.ROUTING_KEYS,
        Feature.RETENTION_TIME,
        Feature.RETENTION_BYTES,
        Feature.RETENTION_MESSAGES,
    }
)

CAPABILITIES = Capabilities(
    backend="rabbitmq",
    features=CLASSIC_FEATURES,
    max_message_bytes=MAX_MESSAGE_BYTES,
    max_batch=1000,
    max_headers=None,
    max_partitions=1,
    topic_names=NAME_RULE,
    # Key and headers go in the AMQP header frame (frame_max), not the body: see headers.py.
    headers=hdr.rule(hdr.DEFAULT_FRAME_MAX),
)


@dataclass(frozen=True, slots=True)
class QueuePlan:
    """Which queue a consumer reads; ``name=None`` asks for a private exclusive queue."""

    name: str | None
    quorum: bool
    arguments: dict[str, Any]
    key: str = ""
    bind_arguments: dict[str, Any] | None = None


STREAM_FEATURES = frozenset(
    {
        Feature.CONSUMER_GROUPS,
        Feature.FAN_OUT,
        Feature.BROADCAST,
        Feature.DURABLE_GROUPS,
        Feature.RETAINS_CONSUMED,
        Feature.REPLAY,
        Feature.SEEK_TIME,
        Feature.DEAD_LETTER,
        Feature.ROUTING_KEYS,
        Feature.RETENTION_TIME,
        Feature.RETENTION_BYTES,
    }
)


def capabilities_for(settings: RabbitOptions) -> Capabilities:
    """What each mode really has; quorum work/group queues are needed for dead letters."""
    features = set(STREAM_FEATURES if settings.mode == "stream" else CLASSIC_FEATURES)
    if settings.queue_type != "quorum":
        features.discard(Feature.DEAD_LETTER)
    return CAPABILITIES.with_features(features)


class RabbitBroker(BrokerDriver):
    """A RabbitMQ vhost through one robust aio-pika connection."""

    name = "rabbitmq"
    declared = RabbitOptions

    def __init__(self, url: URL, options: Mapping[str, Any]) -> None:
        super().__init__(url, options)
        self.settings = RabbitOptions.parse(self.options)
        self.capabilities = capabilities_for(self.settings)
        self.amqp = Amqp(url, self.settings)
        self.registry = Registry(self.amqp)
        self.stream_mode = self.settings.mode == "stream"
        # Stream readers get a connection of their own (see streams.py).
        self.stream_amqp = Amqp(url, self.settings) if self.stream_mode else self.amqp
        self.pump_holders: dict[str, StreamGroupConsumer] = {}
        self.pump_waiters: dict[str, set[StreamGroupConsumer]] = {}
        self.trackers: dict[str, OffsetTracker | None] = {}

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        await self.amqp.start()
        frame_max = hdr.frame_max_of(self.amqp.conn)  # the server may lower the default
        self.capabilities = replace(self.capabilities, headers=hdr.rule(frame_max))
        if self.stream_amqp is not self.amqp:
            try:
                await self.stream_amqp.start()
            except BaseException:
                await self.amqp.close()
                raise

    async def close(self) -> None:
        trackers, self.trackers = self.trackers, {}
        for tracker in trackers.values():
            if tracker is not None:
                await tracker.close()
        if self.stream_amqp is not self.amqp:
            await self.stream_amqp.close()
        await self.amqp.close()

    # -- topics ------------------------------------------------------------------------
    async def create_topic(
        self, name: str, *, partitions: int, retention: Retention, options: Mapping[str, Any]
    ) -> bool:
        exchange_type = RabbitOptions.parse(options, "topic", defaults=self.options).exchange_type
        async with self.registry.edit() as doc:
            return await self._create_locked(doc, name, exchange_type, retention)

    async def _create_locked(
        self, doc: Doc, name: str, exchange_type: str, retention: Retention
    ) -> bool:
        if await topo.exchange_exists(self.amqp, name):
            return False
        if self.stream_mode and exchange_type == "direct":
            raise ConfigError(
                "mode=stream needs an exchange that can route every message into the topic's "
                "stream: topic, fanout or headers, not direct"
            )
        meta = topo.TopicMeta(
            name=name,
            exchange_type=exchange_type,
            mode=self.settings.mode,
            retention_ms=(
                int(retention.time.total_seconds() * 1000) if retention.time is not None else None
            ),
            retention_bytes=retention.bytes,
            retention_messages=retention.messages,
        )
        await topo.declare_exchange(
            self.amqp,
            name,
            exchange_type,
            self.settings.mode,
            {
                "ms": meta.retention_ms,
                "bytes": meta.retention_bytes,
                "messages": meta.retention_messages,
            },
        )
        if self.stream_mode:
            stream = Names.stream(name)
            await topo.declare_queue(
                self.amqp, stream, topo.stream_arguments(meta, self.settings), "stream"
            )
            key, bind_args = topo.binding_arguments(exchange_type, meta.default_binding())
            await topo.bind(self.amqp, stream, name, key, bind_args)
        meta.save(doc)
        return True

    async def ensure_topic(self, name: str) -> None:
        """TopicNotFound unless the exchange exists (or auto-create made it)."""
        if await topo.exchange_exists(self.amqp, name):
            return
        if not self.settings.auto_create_topics:
            raise TopicNotFound(name, "rabbitmq", "or connect with ?auto_create_topics=true")
        async with self.registry.edit() as doc:
            await self._create_locked(doc, name, self.settings.exchange_type, Retention())

    async def delete_topic(self, name: str) -> None:
        tracker = self.trackers.pop(name, None)
        if tracker is not None:
            await tracker.close()
        async with self.registry.edit() as doc:
            meta = topo.TopicMeta.from_doc(doc, name)
            exists = await topo.exchange_exists(self.amqp, name)
            if meta is not None:
                for group in meta.groups:
                    queues = Names.group_objects(name, group, meta.mode)
                    recorded = _recorded_queue(meta, group)
                    if recorded not in queues and not _owners(doc, recorded, name, group):
                        queues.append(recorded)  # named by an older anymq, ours alone
                    for queue in queues:
                        await topo.delete_queue(self.amqp, queue)
                doc["topics"].pop(name, None)
            if meta is not None and meta.mode == "stream":
                await topo.delete_queue(self.amqp, Names.stream(name))
            if not exists:
                raise TopicNotFound(name, "rabbitmq")
            await topo.delete_exchange(self.amqp, name)

    async def describe_topic(self, name: str) -> TopicInfo:
        doc = await self.registry.read()
        if not await topo.exchange_exists(self.amqp, name):
            raise TopicNotFound(name, "rabbitmq")
        meta = topo.TopicMeta.from_doc(doc, name) or topo.TopicMeta(name=name, known=False)
        return TopicInfo(
            name=name,
            partitions=1,
            retention=meta.retention,
            details={
                "exchange": name,
                "exchange_type": meta.exchange_type if meta.known else None,
                "mode": meta.mode,
                "managed_by_anymq": meta.known,
                "groups": sorted(meta.groups),
                "queues": sorted(_recorded_queue(meta, g) for g in meta.groups),
            },
        )

    async def list_topics(self) -> list[str]:
        doc = await self.registry.read()
        return list(doc["topics"])

    async def describe_group(self, topic: str, group: str) -> GroupInfo:
        meta = topo.TopicMeta(name=topic)
        if self.stream_mode or escape(group) != group:
            # Only a group with an escaped character can have a queue named otherwise
            # (by an earlier anymq): the registry knows; stream mode needs its bindings.
            doc = await self.registry.read()
            meta = topo.TopicMeta.from_doc(doc, topic) or meta
        if not await topo.exchange_exists(self.amqp, topic):
            raise TopicNotFound(topic, "rabbitmq")
        counts = await topo.queue_counts(self.amqp, _recorded_queue(meta, group))
        ready, members = counts if counts is not None else (0, 0)
        if self.stream_mode and counts is not None:
            return await self._describe_stream_group(meta, group, ready, members)
        return GroupInfo(
            topic=topic,
            group=group,
            partitions=(PartitionLag(None, None, None, ready),),
            members=members,
            in_flight=None,
        )

    async def _describe_stream_group(
        self, meta: topo.TopicMeta, group: str, ready: int, members: int
    ) -> GroupInfo:
        """Backlog = stream messages after the group's offset (up to a marker) + work queue."""
        topic = meta.name
        entry = meta.groups.get(group) or {}
        bindings = list(entry.get("bindings") or [])
        position = await OffsetStore(self.stream_amqp, Names.offsets(topic, group)).read()
        position = position or {"offset": 0}
        start = int(position.get("offset", 0))
        floor = position.get("ts")
        oldest = hdr_now() - meta.retention_ms if meta.retention_ms else None
        waiting = 0

        def visit(message: Any) -> None:
            nonlocal waiting, floor
            if offset_of(message) < start:
                return
            ts = (message.header.properties.headers or {}).get("x-anymq-ts")
            if floor is not None:
                if isinstance(ts, int) and ts < floor:
                    return
                floor = None
            if oldest is not None and isinstance(ts, int) and ts < oldest:
                return
            if routes(meta.exchange_type, bindings, message):
                waiting += 1

        end = await scan(
            self.stream_amqp,
            Names.stream(topic),
            offset_argument(position),
            visit,
            self.settings.publish_timeout,
        )
        return GroupInfo(
            topic=topic,
            group=group,
            partitions=(PartitionLag(0, start, end, waiting + ready),),
            members=members,
            in_flight=None,
        )

    # -- groups ------------------------------------------------------------------------
    async def prepare_queue(self, options: ConsumerOptions) -> QueuePlan:
        """Declare what a consumer reads (group queue, dead-letter topic) and plan the rest."""
        topic, group = options.topic, options.group
        if group is None:
            async with self.registry.edit() as doc:
                meta = await self._meta_locked(doc, topic)
            key, bind_args = topo.binding_arguments(
                meta.exchange_type, self._binding(meta, options.binding)
            )
            args = topo.queue_arguments(meta, "classic")
            args.pop("x-queue-type")
            return QueuePlan(None, False, args, key, bind_args)
        # Always under the registry lock, also for an existing group: the queue must be checked
        # against the registry (is it this group's?) and bound, never taken as it is.
        async with self.registry.edit() as doc:
            meta = await self._meta_locked(doc, topic)
            dlx = None
            if options.dead_letter_topic is not None:
                dlx = options.dead_letter_topic
                dead = await self._meta_locked(doc, dlx, create="topic")
                await self._ensure_group_locked(doc, dead, group, None, None, None)
            queue, queue_type = await self._ensure_group_locked(
                doc, meta, group, options.binding, options.max_deliveries, dlx
            )
        return QueuePlan(queue, queue_type == "quorum", {})

    def _binding(self, meta: topo.TopicMeta, binding: str | None) -> str:
        if binding is not None and meta.exchange_type == "fanout":
            raise ConfigError(f"topic {meta.name!r} is a fanout exchange: bindings do not apply")
        return binding if binding is not None else meta.default_binding()

    @staticmethod
    def _claim(doc: Doc, meta: topo.TopicMeta, group: str) -> str:
        """The group's queue, refused when the registry records it for another group.

        Names are injective, but a group whose queue an earlier anymq named ``<topic>.<group>``
        without escaping keeps that queue (and its messages), and that name may be the one
        another pair maps to now.
        """
        queue = _recorded_queue(meta, group)
        owners = _owners(doc, queue, meta.name, group)
        if owners:
            other_topic, other_group = owners[0]
            raise ConfigError(
                f"group {group!r} of topic {meta.name!r} would read the queue {queue!r}, but "
                f"that queue belongs to group {other_group!r} of topic {other_topic!r} (it was "
                "named before anymq escaped '.' in group names); consuming it would mix the "
                "two topics' messages. Use another group name, or delete topic "
                f"{other_topic!r} (or that group's queue) first"
            )
        return queue

    async def _meta_locked(
        self, doc: Doc, topic: str, *, create: str | None = None
    ) -> topo.TopicMeta:
        """The topic's registry entry (under the registry lock); TopicNotFound if missing."""
        if not await topo.exchange_exists(self.amqp, topic):
            if create is None and not self.settings.auto_create_topics:
                doc["topics"].pop(topic, None)  # a stale entry: the exchange was deleted
                raise TopicNotFound(topic, "rabbitmq")
            await self._create_locked(
                doc, topic, create or self.settings.exchange_type, Retention()
            )
        meta = topo.TopicMeta.from_doc(doc, topic)
        if meta is None:  # created outside anymq: adopt it with defaults
            meta = topo.TopicMeta(name=topic, known=False)
        return meta

    async def _ensure_group_locked(
        self,
        doc: Doc,
        meta: topo.TopicMeta,
        group: str,
        binding: str | None,
        max_deliveries: int | None,
        dlx: str | None,
    ) -> tuple[str, str]:
        """Declare, bind and record a group's queue; returns its name and queue type."""
        queue = self._claim(doc, meta, group)
        entry = meta.groups.get(group)
        queue_type = self.settings.queue_type
        if entry is not None and max_deliveries is None and dlx is None:
            queue_type = entry.get("queue_type", queue_type)
            max_deliveries = entry.get("max_deliveries")
            dlx = entry.get("dead_letter_topic")
        unrecorded = entry is None and max_deliveries is None and dlx is None
        if not (unrecorded and await topo.queue_counts(self.amqp, queue) is not None):
            # A queue anymq has no record of (topic made outside anymq) is used as it is.
            args = topo.queue_arguments(
                meta, queue_type, max_deliveries=max_deliveries, dead_letter_exchange=dlx
            )
            await topo.declare_queue(self.amqp, queue, args, f"group {group!r}")
        bindings: list[str] = list(entry.get("bindings", [])) if entry else []
        if binding is not None or not bindings:
            wanted = self._binding(meta, binding)
            if wanted not in bindings:
                bindings.append(wanted)
        for each in bindings:  # binding is idempotent: an existing queue is bound again
            key, bind_args = topo.binding_arguments(meta.exchange_type, each)
            await topo.bind(self.amqp, queue, meta.name, key, bind_args)
        _record_group(meta, doc, group, queue, queue_type, bindings, max_deliveries, dlx)
        return queue, queue_type

    # -- clients -----------------------------------------------------------------------
    def producer(self, options: ProducerOptions) -> ProducerDriver:
        return RabbitProducer(self, options)

    def consumer(self, options: ConsumerOptions) -> ConsumerDriver:
        RabbitOptions.parse(options.extra, "consumer", defaults=self.options)
        if options.prefetch > MAX_PREFETCH:
            raise ConfigError(
                f"prefetch={options.prefetch} is over RabbitMQ's limit: basic.qos takes a "
                f"prefetch count from 1 to {MAX_PREFETCH} (16 bits); use a smaller prefetch"
            )
        if not self.stream_mode:
            return QueueConsumer(self, options)
        if options.group is None:
            return StreamBroadcastConsumer(self, options)
        return StreamGroupConsumer(self, options)

    # -- stream mode -------------------------------------------------------------------
    async def stream_topic(self, topic: str) -> topo.TopicMeta:
        """A stream-mode topic's registry entry; TopicNotFound / ConfigError otherwise."""
        async with self.registry.edit() as doc:
            meta = await self._meta_locked(doc, topic)
        if meta.known and meta.mode != "stream":
            raise ConfigError(
                f"topic {topic!r} was created in classic mode (no stream); connect without "
                "mode=stream to consume it"
            )
        return meta

    async def stream_end(self, stream: str) -> int:
        """The offset of a fresh marker: everything before it is in the stream now."""
        return await scan(self.stream_amqp, stream, "next", None, self.settings.publish_timeout)

    async def tracker(self, topic: str) -> OffsetTracker | None:
        """The offset tracker of a stream-mode topic (None when it has no stream).

        Right after a server restart a stream can refuse readers for a moment (404, lost
        channel). The send then goes ahead without an offset in its receipt (the message
        is still confirmed) and the next send attaches again; only a topic whose stream
        does not exist is remembered as having none.
        """
        found = self.trackers.get(topic)
        if found is not None and not found.closed:
            try:
                await found.ensure()
            except Exception:
                return None
            return found
        if found is None and topic in self.trackers:
            return None
        tracker = OffsetTracker(self.stream_amqp, Names.stream(topic))
        try:
            await tracker.ensure()
        except Exception:
            await tracker.close()
            if await self._has_no_stream(topic):
                self.trackers[topic] = None
            else:
                self.trackers.pop(topic, None)
            return None
        self.trackers[topic] = tracker
        return tracker

    async def _has_no_stream(self, topic: str) -> bool:
        """True only when RabbitMQ says the topic's stream does not exist."""
        try:
            return await topo.queue_counts(self.stream_amqp, Names.stream(topic)) is None
        except Exception:
            return False

    async def prepare_stream_group(
        self, options: ConsumerOptions
    ) -> tuple[topo.TopicMeta, list[str], bool, str]:
        """Declare a stream-mode group's work queue, offset and control queues; store its start.

        Returns the topic's entry, the group's bindings, whether the work queue is a quorum
        queue, and its name.
        """
        topic, group = options.topic, options.group
        assert group is not None
        store = OffsetStore(self.stream_amqp, Names.offsets(topic, group))
        async with self.registry.edit() as doc:
            meta = await self._meta_locked(doc, topic)
            if meta.known and meta.mode != "stream":
                raise ConfigError(
                    f"topic {topic!r} was created in classic mode (no stream); connect without "
                    "mode=stream to consume it"
                )
            queue = self._claim(doc, meta, group)
            dlx = options.dead_letter_topic
            if dlx is not None:
                await self._meta_locked(doc, dlx, create="topic")
            entry = meta.groups.get(group)
            queue_type = self.settings.queue_type
            max_deliveries = options.max_deliveries
            if entry is not None and max_deliveries is None and dlx is None:
                queue_type = entry.get("queue_type", queue_type)
                max_deliveries = entry.get("max_deliveries")
                dlx = entry.get("dead_letter_topic")
            work = topo.TopicMeta(name=topic)  # retention lives on the stream, not here
            await topo.declare_queue(
                self.amqp,
                queue,
                # No x-dead-letter-exchange: RabbitMQ 3.10 does not dead-letter into streams,
                # so stream-mode groups dead-letter client-side (StreamGroupConsumer.nack).
                topo.queue_arguments(work, queue_type),
                f"group {group!r}",
            )
            await store.declare()
            await topo.declare_queue(
                self.amqp, Names.control(topic, group), {"x-queue-type": "classic"}, "control"
            )
            bindings: list[str] = list(entry.get("bindings", [])) if entry else []
            if options.binding is not None:
                self._binding(meta, options.binding)
                if options.binding not in bindings:
                    bindings.append(options.binding)
            _record_group(meta, doc, group, queue, queue_type, bindings, max_deliveries, dlx)
            if await store.read() is None:
                stream = Names.stream(topic)
                position = await resolve(self, stream, position_request(options.start))
                async with self.stream_amqp.admin_confirm() as channel:
                    await store.write(position, channel)
        return meta, bindings, queue_type == "quorum", queue


def hdr_now() -> int:
    from anymq_rabbitmq.headers import now_ms

    return now_ms()


__all__ = ["CAPABILITIES", "RabbitBroker"]


def _recorded_queue(meta: topo.TopicMeta, group: str) -> str:
    """The queue the registry records for a group, else the name it gets now."""
    queue = (meta.groups.get(group) or {}).get("queue")
    return queue if isinstance(queue, str) and queue else Names.group_queue(meta.name, group)


def _owners(doc: Doc, queue: str, topic: str, group: str) -> list[tuple[str, str]]:
    """The other (topic, group) pairs the registry records ``queue`` for."""
    return [
        (other, name)
        for other, entry in doc["topics"].items()
        for name, info in (entry.get("groups") or {}).items()
        if (other, name) != (topic, group) and (info or {}).get("queue") == queue
    ]


def _record_group(
    meta: topo.TopicMeta,
    doc: Doc,
    group: str,
    queue: str,
    queue_type: str,
    bindings: list[str],
    max_deliveries: int | None,
    dlx: str | None,
) -> None:
    """Remember a group's queue in the topic's registry entry (saved if the topic is known)."""
    meta.groups[group] = {
        "queue": queue,
        "queue_type": queue_type,
        "bindings": bindings,
        "max_deliveries": max_deliveries,
        "dead_letter_topic": dlx,
    }
    if meta.known:
        meta.save(doc)
