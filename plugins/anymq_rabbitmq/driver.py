"""The rabbitmq backend: ``amqp://user:pass@host:port/vhost`` and ``amqps://``.

Mapping (see docs/backends/rabbitmq.md):

- topic: a durable exchange (topic type by default), recorded in anymq's registry;
- group: the durable queue ``<topic>.<group>`` bound to the exchange, the group's ``.`` and
  ``%`` escaped so no two pairs share it (naming.py; quorum by default, so x-delivery-count
  counts; consumers dead-letter to ``<topic>.DLT`` themselves, see consumer.py);
- no group: an exclusive auto-delete queue that lives as long as the consumer;
- retention: message TTL / max-length / max-length-bytes of the group queues;
- ``mode=stream``: every topic also gets a stream; groups read it through a pump that
  keeps their position on the broker, so history stays and groups can replay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from anymq.backend import (
    BrokerDriver,
    ConsumerDriver,
    ConsumerOptions,
    ProducerDriver,
    ProducerOptions,
)
from anymq.errors import ConfigError, TopicNotFound, UnsupportedFeature
from anymq.features import Capabilities, Feature, NameRule
from anymq.model import GroupInfo, PartitionLag, Retention, TopicInfo
from anymq.url import URL
from anymq_rabbitmq import declare
from anymq_rabbitmq import headers as hdr
from anymq_rabbitmq import topology as topo
from anymq_rabbitmq.classic import ClassicConsumer
from anymq_rabbitmq.context import RabbitContext
from anymq_rabbitmq.naming import Names
from anymq_rabbitmq.options import RabbitOptions
from anymq_rabbitmq.producer import RabbitProducer
from anymq_rabbitmq.streamgroup import PumpSeats
from anymq_rabbitmq.streamparts import StreamBroadcast, StreamGroupMember
from anymq_rabbitmq.streams import Cursor, OffsetStore, offset_argument, oldest_kept, scan

NAME_RULE = NameRule(
    r"(?!amq\.)[A-Za-z0-9._:-]{1,200}",
    "1 to 200 characters from A-Z a-z 0-9 . _ : - (not starting with 'amq.')",
)

#: RabbitMQ's own limit is 128 MiB (max_message_size); anymq keeps messages to 16 MiB.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
#: basic.qos prefetch_count is an unsigned 16-bit field.
MAX_PREFETCH = 65535
#: Each partition is an exchange, and one queue (a Raft group when quorum) per group:
#: past a few dozen a topic costs more than its parallelism buys (docs/backends/rabbitmq.md).
MAX_PARTITIONS = 64

CLASSIC_FEATURES = frozenset(
    {
        Feature.CONSUMER_GROUPS,
        Feature.FAN_OUT,
        Feature.BROADCAST,
        Feature.DURABLE_GROUPS,
        Feature.DECLARED_GROUPS,
        Feature.LIST_GROUPS,
        Feature.DEAD_LETTER,
        Feature.ROUTING_KEYS,
        Feature.RETENTION_TIME,
        Feature.RETENTION_BYTES,
        Feature.RETENTION_MESSAGES,
        Feature.PARTITIONS,
        Feature.KEY_ORDERING,
        Feature.ROUND_ROBIN,
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


STREAM_FEATURES = frozenset(
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
        Feature.DEAD_LETTER,
        Feature.ROUTING_KEYS,
        Feature.RETENTION_TIME,
        Feature.RETENTION_BYTES,
        Feature.PARTITIONS,
        Feature.KEY_ORDERING,
        Feature.ROUND_ROBIN,
    }
)


def capabilities_for(settings: RabbitOptions) -> Capabilities:
    """What each mode really has; quorum work/group queues are needed for dead letters."""
    features = set(STREAM_FEATURES if settings.mode == "stream" else CLASSIC_FEATURES)
    if settings.queue_type != "quorum":
        features.discard(Feature.DEAD_LETTER)
    return replace(CAPABILITIES.with_features(features), max_partitions=MAX_PARTITIONS)


class RabbitBroker(BrokerDriver):
    """A RabbitMQ vhost through one robust aio-pika connection (see context.py)."""

    name = "rabbitmq"
    declared = RabbitOptions

    def __init__(self, url: URL, options: Mapping[str, Any]) -> None:
        super().__init__(url, options)
        self.context = RabbitContext(url, self.options)
        self.settings = self.context.settings
        self.capabilities = capabilities_for(self.settings)
        self.amqp = self.context.amqp
        self.stream_amqp = self.context.stream_amqp
        self.registry = self.context.registry
        self.pumps = PumpSeats()

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        await self.context.start()
        frame_max = hdr.frame_max_of(self.amqp.conn)  # the server may lower the default
        self.capabilities = replace(self.capabilities, headers=hdr.rule(frame_max))

    async def close(self) -> None:
        await self.context.close()

    # -- topics ------------------------------------------------------------------------
    async def create_topic(
        self, name: str, *, partitions: int, retention: Retention, options: Mapping[str, Any]
    ) -> bool:
        exchange_type = RabbitOptions.parse(options, "topic", defaults=self.options).exchange_type
        async with self.registry.edit() as doc:
            return await declare.create_locked(
                self.context, doc, name, exchange_type, retention, partitions
            )

    async def delete_topic(self, name: str) -> None:
        await self.context.drop_tracker(name)
        async with self.registry.edit() as doc:
            meta = topo.TopicMeta.from_doc(doc, name)
            exists = await topo.exchange_exists(self.amqp, name)
            if meta is not None:
                for group in meta.groups:
                    queues = Names.group_objects(name, group, meta.mode, meta.partitions)
                    recorded = declare.recorded_queue(meta, group)
                    if meta.partitioned:
                        queues += declare.group_queues(meta, recorded)
                        await topo.delete_exchange(self.amqp, Names.roster(name, group))
                    elif recorded not in queues and not declare.owners(doc, recorded, name, group):
                        queues.append(recorded)  # named by an older anymq, ours alone
                    for queue in dict.fromkeys(queues):
                        await topo.delete_queue(self.amqp, queue)
                doc["topics"].pop(name, None)
            if meta is not None and meta.mode == "stream":
                for stream in meta.streams():
                    await topo.delete_queue(self.amqp, stream)
            if not exists:
                raise TopicNotFound(name, "rabbitmq")
            await topo.delete_exchange(self.amqp, name)
            if meta is not None and meta.partitioned:
                for exchange in meta.partition_exchanges():
                    await topo.delete_exchange(self.amqp, exchange)

    async def describe_topic(self, name: str) -> TopicInfo:
        doc = await self.registry.read()
        if not await topo.exchange_exists(self.amqp, name):
            raise TopicNotFound(name, "rabbitmq")
        meta = topo.TopicMeta.from_doc(doc, name) or topo.TopicMeta(name=name, known=False)
        return TopicInfo(
            name=name,
            partitions=meta.partitions,
            retention=meta.retention,
            details={
                "exchange": name,
                "exchange_type": meta.exchange_type if meta.known else None,
                "mode": meta.mode,
                "managed_by_anymq": meta.known,
                "groups": sorted(meta.groups),
                "queues": sorted(
                    queue
                    for g in meta.groups
                    for queue in declare.group_queues(meta, declare.recorded_queue(meta, g))
                ),
                **({"partition_exchanges": meta.partition_exchanges()} if meta.partitioned else {}),
                **({"streams": meta.streams()} if meta.mode == "stream" else {}),
            },
        )

    async def list_topics(self) -> list[str]:
        doc = await self.registry.read()
        return list(doc["topics"])

    async def create_group(self, topic: str, group: str) -> bool:
        """Through the function a consumer's start declares its group with: classic, the
        bound queue; stream mode, the work queue and the position at the stream's end."""
        with self.amqp.dropped(f"declare group {group!r} of {topic!r}"):
            await topo.require_exchange(self.amqp, topic)  # never auto-created here
            options = ConsumerOptions(topic=topic, group=group)
            if self.context.stream_mode:
                return (await declare.prepare_stream_group(self.context, options)).new
            return (await declare.prepare_queue(self.context, options)).new

    async def list_groups(self, topic: str) -> list[str]:
        """The groups anymq's registry records for the topic: AMQP cannot list the queues
        bound to an exchange (only the optional management API can)."""
        doc = await self.registry.read()
        if not await topo.exchange_exists(self.amqp, topic):
            raise TopicNotFound(topic, "rabbitmq")
        meta = topo.TopicMeta.from_doc(doc, topic)
        if meta is None:
            raise UnsupportedFeature(
                Feature.LIST_GROUPS.value,
                "rabbitmq",
                f"exchange {topic!r} was not created by anymq, so anymq has no record of its "
                "groups, and AMQP cannot list the queues bound to an exchange (the management "
                "API can: rabbitmqctl list_bindings)",
            )
        return list(meta.groups)

    async def group_exists(self, topic: str, group: str) -> bool:
        with self.amqp.dropped(f"look up group {group!r} of {topic!r}"):
            return await declare.group_exists(self.context, topic, group)

    async def describe_group(self, topic: str, group: str) -> GroupInfo:
        stream_mode = self.context.stream_mode
        # The registry knows the partitions, the queue of a group named by an earlier anymq
        # and, in stream mode, the bindings.
        doc = await self.registry.read()
        meta = topo.TopicMeta.from_doc(doc, topic) or topo.TopicMeta(name=topic)
        if not await topo.exchange_exists(self.amqp, topic):
            raise TopicNotFound(topic, "rabbitmq")
        if meta.partitioned:
            return await self._describe_partitioned_group(meta, group)
        counts = await topo.queue_counts(self.amqp, declare.recorded_queue(meta, group))
        ready, members = counts if counts is not None else (0, 0)
        if stream_mode and counts is not None:
            return await self._describe_stream_group(meta, group, ready, members)
        return GroupInfo(
            topic=topic,
            group=group,
            partitions=(PartitionLag(None, None, None, ready),),
            members=members,
            in_flight=None,
        )

    async def _describe_partitioned_group(self, meta: topo.TopicMeta, group: str) -> GroupInfo:
        """Backlog per partition (queue, or stream + work queue); members is unknown (AMQP
        cannot list a queue's consumers, and a member subscribes only to its partitions)."""
        queues = declare.group_queues(meta, declare.recorded_queue(meta, group))
        lags = []
        for partition, queue in enumerate(queues):
            counts = await topo.queue_counts(self.amqp, queue)
            ready = counts[0] if counts else 0
            if self.context.stream_mode and counts is not None:
                lags.append(await self._stream_lag(meta, group, ready, partition))
            else:
                lags.append(PartitionLag(partition, None, None, ready))
        return GroupInfo(topic=meta.name, group=group, partitions=tuple(lags), members=None)

    async def _describe_stream_group(
        self, meta: topo.TopicMeta, group: str, ready: int, members: int
    ) -> GroupInfo:
        return GroupInfo(
            topic=meta.name,
            group=group,
            partitions=(await self._stream_lag(meta, group, ready, None),),
            members=members,
            in_flight=None,
        )

    async def _stream_lag(
        self, meta: topo.TopicMeta, group: str, ready: int, partition: int | None
    ) -> PartitionLag:
        """Backlog = stream messages after the group's offset (up to a marker) + work queue."""
        topic = meta.name
        entry = meta.groups.get(group) or {}
        bindings = list(entry.get("bindings") or [])
        store = OffsetStore(self.stream_amqp, Names.offsets(topic, group, partition))
        position = await store.read() or {"offset": 0}
        start = int(position.get("offset", 0))
        cursor, oldest = Cursor(position), oldest_kept(meta.retention_ms)
        waiting = 0

        def visit(message: Any) -> None:
            nonlocal waiting
            if cursor.wanted(message, meta.exchange_type, bindings, oldest):
                waiting += 1

        end = await scan(
            self.stream_amqp,
            Names.stream(topic, partition),
            offset_argument(position),
            visit,
            self.settings.publish_timeout,
        )
        return PartitionLag(partition or 0, start, end, waiting + ready)

    # -- clients -----------------------------------------------------------------------
    def producer(self, options: ProducerOptions) -> ProducerDriver:
        return RabbitProducer(self.context, options)

    def consumer(self, options: ConsumerOptions) -> ConsumerDriver:
        RabbitOptions.parse(options.extra, "consumer", defaults=self.options)
        if options.prefetch > MAX_PREFETCH:
            raise ConfigError(
                f"prefetch={options.prefetch} is over RabbitMQ's limit: basic.qos takes a "
                f"prefetch count from 1 to {MAX_PREFETCH} (16 bits); use a smaller prefetch"
            )
        if not self.context.stream_mode:
            return ClassicConsumer(self.context, options)
        if options.group is None:
            return StreamBroadcast(self.context, options)
        return StreamGroupMember(self.context, options, self.pumps)


__all__ = ["CAPABILITIES", "RabbitBroker"]
