"""Declaring topics and group queues, always under the registry lock.

Used by the driver (create_topic) and by producers and consumers (a first send, a consumer
start), which get the broker's context, not the driver. Each step checks the registry before
it touches RabbitMQ: a queue is checked against the registry (is it this group's?) and bound,
never taken as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from anymq.backend import ConsumerOptions
from anymq.errors import ConfigError, TopicNotFound
from anymq.model import Retention
from anymq_rabbitmq import topology as topo
from anymq_rabbitmq.context import RabbitContext
from anymq_rabbitmq.naming import Names
from anymq_rabbitmq.options import RabbitOptions
from anymq_rabbitmq.registry import Doc
from anymq_rabbitmq.streams import OffsetStore, position_request, resolve


@dataclass(frozen=True, slots=True)
class QueuePlan:
    """Which queue a consumer reads; ``name=None`` asks for a private exclusive queue.

    ``exchanges`` are what a private queue is bound to (every partition of a partitioned
    topic); ``partitions`` are a group's queues, one per partition, on a partitioned topic.
    """

    name: str | None
    quorum: bool
    arguments: dict[str, Any]
    key: str = ""
    bind_arguments: dict[str, Any] | None = None
    new: bool = False
    """The group did not exist before (create_group's answer)."""
    exchanges: tuple[str, ...] = ()
    partitions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StreamGroupPlan:
    """A stream-mode group: its topic's entry, bindings and work queue."""

    meta: topo.TopicMeta
    bindings: list[str]
    quorum: bool
    queue: str
    new: bool = False
    """The group had no stored position before (create_group's answer)."""
    partitions: tuple[str, ...] = ()
    """The work queue of each partition, on a partitioned topic."""


async def create_locked(
    ctx: RabbitContext,
    doc: Doc,
    name: str,
    exchange_type: str,
    retention: Retention,
    partitions: int = 1,
) -> bool:
    """Declare a topic's exchange (and stream, or partition exchanges) and record it;
    False if it existed."""
    if await topo.exchange_exists(ctx.amqp, name):
        return False
    if ctx.stream_mode and exchange_type == "direct":
        raise ConfigError(
            "mode=stream needs an exchange that can route every message into the topic's "
            "stream: topic, fanout or headers, not direct"
        )
    meta = topo.TopicMeta(
        name=name,
        exchange_type=exchange_type,
        mode=ctx.settings.mode,
        retention_ms=(
            int(retention.time.total_seconds() * 1000) if retention.time is not None else None
        ),
        retention_bytes=retention.bytes,
        retention_messages=retention.messages,
        partitions=partitions,
    )
    retained = {
        "ms": meta.retention_ms,
        "bytes": meta.retention_bytes,
        "messages": meta.retention_messages,
    }
    key, bind_args = topo.binding_arguments(exchange_type, meta.default_binding())
    exchanges = meta.partition_exchanges()
    if meta.partitioned:
        # The partitions first: the topic's own exchange is what says the topic exists.
        for exchange in exchanges:
            await topo.declare_exchange(ctx.amqp, exchange, exchange_type, ctx.settings.mode, {})
        await _declare_streams(ctx, meta, exchanges, key, bind_args)
        await topo.declare_exchange(ctx.amqp, name, exchange_type, ctx.settings.mode, retained)
        # anymq publishes to a partition's exchange; what others publish to the topic's own
        # exchange (dead letters of another topic, a plain AMQP client) lands on partition 0.
        await topo.bind_exchange(ctx.amqp, exchanges[0], name, key, bind_args)
    else:
        await topo.declare_exchange(ctx.amqp, name, exchange_type, ctx.settings.mode, retained)
        await _declare_streams(ctx, meta, exchanges, key, bind_args)
    meta.save(doc)
    return True


async def _declare_streams(
    ctx: RabbitContext,
    meta: topo.TopicMeta,
    exchanges: list[str],
    key: str,
    bind_args: dict[str, Any] | None,
) -> None:
    """Stream mode: the topic's stream, or one per partition, each bound to its exchange."""
    if not ctx.stream_mode:
        return
    arguments = topo.stream_arguments(meta, ctx.settings)
    for stream, exchange in zip(meta.streams(), exchanges, strict=True):
        await topo.declare_queue(ctx.amqp, stream, arguments, "stream")
        await topo.bind(ctx.amqp, stream, exchange, key, bind_args)


async def ensure_topic(ctx: RabbitContext, name: str) -> None:
    """TopicNotFound unless the exchange exists (or auto-create made it)."""
    if await topo.exchange_exists(ctx.amqp, name):
        return
    if not ctx.settings.auto_create_topics:
        raise TopicNotFound(name, "rabbitmq", "or connect with ?auto_create_topics=true")
    async with ctx.registry.edit() as doc:
        await create_locked(ctx, doc, name, ctx.settings.exchange_type, Retention())


async def topic_partitions(ctx: RabbitContext, topic: str) -> int:
    """How many partitions the registry records for ``topic`` (1 when it has no entry)."""
    meta = topo.TopicMeta.from_doc(await ctx.registry.read(), topic)
    return meta.partitions if meta is not None else 1


async def meta_locked(
    ctx: RabbitContext, doc: Doc, topic: str, *, create: str | None = None
) -> topo.TopicMeta:
    """The topic's registry entry (under the registry lock); TopicNotFound if missing."""
    if not await topo.exchange_exists(ctx.amqp, topic):
        if create is None and not ctx.settings.auto_create_topics:
            doc["topics"].pop(topic, None)  # a stale entry: the exchange was deleted
            raise TopicNotFound(topic, "rabbitmq")
        exchange_type = create or ctx.settings.exchange_type
        await create_locked(ctx, doc, topic, exchange_type, Retention())
    meta = topo.TopicMeta.from_doc(doc, topic)
    if meta is None:  # created outside anymq: adopt it with defaults
        meta = topo.TopicMeta(name=topic, known=False)
    return meta


def _stream_only(meta: topo.TopicMeta) -> topo.TopicMeta:
    if meta.known and meta.mode != "stream":
        raise ConfigError(
            f"topic {meta.name!r} was created in classic mode (no stream); connect without "
            "mode=stream to consume it"
        )
    return meta


async def stream_topic(ctx: RabbitContext, topic: str) -> topo.TopicMeta:
    """A stream-mode topic's registry entry; TopicNotFound / ConfigError otherwise."""
    async with ctx.registry.edit() as doc:
        return _stream_only(await meta_locked(ctx, doc, topic))


def binding(meta: topo.TopicMeta, wanted: str | None) -> str:
    """The binding a group asks for (the topic's default without one)."""
    if wanted is not None and meta.exchange_type == "fanout":
        raise ConfigError(f"topic {meta.name!r} is a fanout exchange: bindings do not apply")
    return wanted if wanted is not None else meta.default_binding()


def recorded_queue(meta: topo.TopicMeta, group: str) -> str:
    """The queue the registry records for a group, else the name it gets now."""
    queue = (meta.groups.get(group) or {}).get("queue")
    return queue if isinstance(queue, str) and queue else Names.group_queue(meta.name, group)


def owners(doc: Doc, queue: str, topic: str, group: str) -> list[tuple[str, str]]:
    """The other (topic, group) pairs the registry records ``queue`` for."""
    return [
        (other, name)
        for other, entry in doc["topics"].items()
        for name, info in (entry.get("groups") or {}).items()
        if (other, name) != (topic, group) and (info or {}).get("queue") == queue
    ]


def claim(doc: Doc, meta: topo.TopicMeta, group: str) -> str:
    """The group's queue, refused when the registry records it for another group.

    Names are injective, but a group whose queue an earlier anymq named ``<topic>.<group>``
    without escaping keeps that queue (and its messages), and that name may be the one
    another pair maps to now.
    """
    queue = recorded_queue(meta, group)
    found = owners(doc, queue, meta.name, group)
    if found:
        other_topic, other_group = found[0]
        raise ConfigError(
            f"group {group!r} of topic {meta.name!r} would read the queue {queue!r}, but "
            f"that queue belongs to group {other_group!r} of topic {other_topic!r} (it was "
            "named before anymq escaped '.' in group names); consuming it would mix the "
            "two topics' messages. Use another group name, or delete topic "
            f"{other_topic!r} (or that group's queue) first"
        )
    return queue


@dataclass(slots=True)
class GroupRecord:
    """A group's queue as the registry records it (see :func:`record`).

    ``max_deliveries`` / ``dead_letter_topic`` are the queue's own ``x-delivery-limit`` /
    ``x-dead-letter-exchange``, which only an older anymq declared (None for every queue
    declared now: they are consumer settings, applied client-side by anymq.delivery).
    """

    queue: str
    queue_type: str
    bindings: list[str]
    max_deliveries: int | None = None
    dead_letter_topic: str | None = None
    new: bool = False
    """Neither recorded nor its queue existed before (set by :func:`ensure_group_locked`)."""

    @classmethod
    def wanted(
        cls, ctx: RabbitContext, meta: topo.TopicMeta, group: str, queue: str
    ) -> GroupRecord:
        """What the registry records for the group, else a new group of the URL's type."""
        entry = meta.groups.get(group)
        if entry is None:
            return cls(queue, ctx.settings.queue_type, [])
        return cls(
            queue,
            entry.get("queue_type", ctx.settings.queue_type),
            list(entry.get("bindings", [])),
            entry.get("max_deliveries"),
            entry.get("dead_letter_topic"),
        )

    def save(self, meta: topo.TopicMeta, doc: Doc, group: str) -> None:
        """Remember it in the topic's registry entry (saved if the topic is known)."""
        meta.groups[group] = {
            "queue": self.queue,
            "queue_type": self.queue_type,
            "bindings": self.bindings,
            "max_deliveries": self.max_deliveries,
            "dead_letter_topic": self.dead_letter_topic,
        }
        if meta.known:
            meta.save(doc)


async def ensure_group_locked(
    ctx: RabbitContext,
    doc: Doc,
    meta: topo.TopicMeta,
    group: str,
    wanted: str | None,
) -> GroupRecord:
    """Declare, bind and record a group's queue (one per partition on a partitioned
    topic, each with a single active consumer; ``record.new``: it did not exist).

    Only a missing queue is declared, without dead-letter arguments (max_deliveries and
    dead_letter_topic are consumer settings). A queue that exists is used as it is: one an
    older anymq declared with x-delivery-limit / x-dead-letter-exchange (or one made outside
    anymq) keeps its arguments, so no consumer meets PRECONDITION_FAILED after an upgrade.
    """
    known = group in meta.groups
    record = GroupRecord.wanted(ctx, meta, group, claim(doc, meta, group))
    queues = group_queues(meta, record.queue)
    existing = [await topo.queue_counts(ctx.amqp, queue) is not None for queue in queues]
    record.new = not (known or existing[0])
    if not any(existing):  # every queue is declared now, without dead-letter arguments
        record.max_deliveries = record.dead_letter_topic = None
    args = topo.queue_arguments(meta, record.queue_type)
    if meta.partitioned:
        args["x-single-active-consumer"] = True
    for queue, exists in zip(queues, existing, strict=True):
        if not exists:
            await topo.declare_queue(ctx.amqp, queue, args, f"group {group!r}")
    if wanted is not None or not record.bindings:
        each = binding(meta, wanted)
        if each not in record.bindings:
            record.bindings.append(each)
    for queue, exchange in zip(queues, meta.partition_exchanges(), strict=True):
        for each in record.bindings:  # idempotent: an existing queue is bound again
            key, bind_args = topo.binding_arguments(meta.exchange_type, each)
            await topo.bind(ctx.amqp, queue, exchange, key, bind_args)
    record.save(meta, doc, group)
    return record


def group_queues(meta: topo.TopicMeta, queue: str) -> list[str]:
    """A group's queues: its queue, or one per partition derived from it."""
    if not meta.partitioned:
        return [queue]
    return [Names.partition_queue(queue, p) for p in range(meta.partitions)]


async def prepare_queue(ctx: RabbitContext, options: ConsumerOptions) -> QueuePlan:
    """Declare what a consumer reads (group queue, dead-letter topic) and plan the rest."""
    topic, group = options.topic, options.group
    if group is None:
        async with ctx.registry.edit() as doc:
            meta = await meta_locked(ctx, doc, topic)
        key, bind_args = topo.binding_arguments(meta.exchange_type, binding(meta, options.binding))
        args = topo.queue_arguments(meta, "classic")
        args.pop("x-queue-type")
        exchanges = tuple(meta.partition_exchanges())
        return QueuePlan(None, False, args, key, bind_args, exchanges=exchanges)
    async with ctx.registry.edit() as doc:
        meta = await meta_locked(ctx, doc, topic)
        if (
            meta.partitioned
            and RabbitOptions.parse(options.extra, "consumer", defaults=ctx.options).exclusive
        ):
            raise ConfigError(
                f"exclusive=true does not apply to topic {topic!r}: it has {meta.partitions} "
                "partitions, and each partition of a group is read by one member at a time "
                "already (single active consumer); drop exclusive"
            )
        dlx = options.dead_letter_topic
        if dlx is not None:
            dead = await meta_locked(ctx, doc, dlx, create="topic")
            # The dead-letter topic's queue for this group: a dead letter has a home.
            await ensure_group_locked(ctx, doc, dead, group, None)
        record = await ensure_group_locked(ctx, doc, meta, group, options.binding)
    quorum = record.queue_type == "quorum"
    if meta.partitioned:
        parts = tuple(group_queues(meta, record.queue))
        return QueuePlan(record.queue, quorum, {}, new=record.new, partitions=parts)
    return QueuePlan(record.queue, quorum, {}, new=record.new)


async def prepare_stream_group(ctx: RabbitContext, options: ConsumerOptions) -> StreamGroupPlan:
    """Declare a stream-mode group's work queue, offset and control queues (one of each per
    partition on a partitioned topic, the work queues then with a single active consumer)
    and store where the group starts in each stream."""
    topic, group = options.topic, options.group
    assert group is not None
    async with ctx.registry.edit() as doc:
        meta = _stream_only(await meta_locked(ctx, doc, topic))
        queue = claim(doc, meta, group)
        dlx = options.dead_letter_topic
        if dlx is not None:
            await meta_locked(ctx, doc, dlx, create="topic")
        record = GroupRecord.wanted(ctx, meta, group, queue)
        work = topo.TopicMeta(name=topic)  # retention lives on the stream, not here
        # No x-dead-letter-exchange: RabbitMQ 3.10 does not dead-letter into streams,
        # so stream-mode groups dead-letter client-side (StreamGroupConsumer.nack).
        args = topo.queue_arguments(work, record.queue_type)
        parts: list[int | None] = list(range(meta.partitions)) if meta.partitioned else [None]
        queues = group_queues(meta, queue)
        if meta.partitioned:
            args["x-single-active-consumer"] = True
        stores = [OffsetStore(ctx.stream_amqp, Names.offsets(topic, group, p)) for p in parts]
        for part, work_queue, store in zip(parts, queues, stores, strict=True):
            await topo.declare_queue(ctx.amqp, work_queue, args, f"group {group!r}")
            await store.declare()
            await topo.declare_queue(
                ctx.amqp,
                Names.control(topic, group, part),
                {"x-queue-type": "classic"},
                "control",
            )
        if options.binding is not None:
            binding(meta, options.binding)
            if options.binding not in record.bindings:
                record.bindings.append(options.binding)
        record.save(meta, doc, group)
        new = False
        for part, store in zip(parts, stores, strict=True):
            if await store.read() is None:
                new = True
                position = await resolve(
                    ctx.stream_amqp,
                    Names.stream(topic, part),
                    position_request(options.start),
                    ctx.settings.publish_timeout,
                )
                async with ctx.stream_amqp.admin(confirms=True) as channel:
                    await store.write(position, channel)
    partitions = tuple(queues) if meta.partitioned else ()
    return StreamGroupPlan(
        meta, record.bindings, record.queue_type == "quorum", queue, new, partitions
    )


async def group_exists(ctx: RabbitContext, topic: str, group: str) -> bool:
    """The registry records the group, or its queue exists (a group of an older anymq)."""
    meta = topo.TopicMeta.from_doc(await ctx.registry.read(), topic)
    if meta is not None and group in meta.groups:
        return True
    meta = meta or topo.TopicMeta(name=topic)
    queue = group_queues(meta, recorded_queue(meta, group))[0]
    return await topo.queue_counts(ctx.amqp, queue) is not None
