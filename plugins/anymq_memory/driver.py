"""The memory backend's broker driver: a faithful event broker inside one process.

It behaves like Kafka, not like a shortcut: messages get per-partition offsets and stay
after they are consumed, groups share partitions and keep durable positions, unsettled
messages are redelivered, and retention, replay and dead letters work. Everything runs on
the caller's event loop; no task is created per message.

This module only wires: producers and consumers (:mod:`anymq_memory.producer`,
:mod:`anymq_memory.consumer`) share a :class:`~anymq_memory.context.MemoryContext`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from anymq.backend import (
    BrokerDriver,
    ConsumerDriver,
    ConsumerOptions,
    ProducerDriver,
    ProducerOptions,
)
from anymq.errors import TopicNotFound
from anymq.features import Capabilities, Feature, HeaderRule, NameRule
from anymq.model import GroupInfo, PartitionLag, Position, Retention, TopicInfo
from anymq.url import URL
from anymq_memory.consumer import MemoryConsumer, ensure_group
from anymq_memory.context import MemoryContext
from anymq_memory.options import MemoryOptions
from anymq_memory.producer import MemoryProducer

CAPABILITIES = Capabilities(
    backend="memory",
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
            Feature.RETENTION_BYTES,
            Feature.RETENTION_MESSAGES,
            Feature.NACK_DELAY,
        }
    ),
    max_message_bytes=1_048_576,
    max_batch=100_000,
    max_partitions=1024,
    headers=HeaderRule(max_metadata_bytes=1_048_576),  # no limit besides the message's
    topic_names=NameRule(r"[A-Za-z0-9._-]{1,249}", "1 to 249 characters from A-Z a-z 0-9 . _ -"),
    in_process=True,
)


class MemoryBroker(BrokerDriver):
    """``memory://`` (the process-wide default space) or ``memory://name``."""

    name = "memory"
    capabilities = CAPABILITIES
    declared = MemoryOptions

    def __init__(self, url: URL, options: Mapping[str, Any]) -> None:
        super().__init__(url, options)
        self.context = MemoryContext(
            url.host or "default", MemoryOptions.parse(self.options), self.name
        )
        self.auto_create = self.context.auto_create
        self.space_name = self.context.space_name
        self.space = self.context.space

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def create_topic(
        self, name: str, *, partitions: int, retention: Retention, options: Mapping[str, Any]
    ) -> bool:
        MemoryOptions.parse(options, "topic")
        return self.context.create(name, partitions, retention)

    async def delete_topic(self, name: str) -> None:
        topic = self.space.topics.pop(name, None)
        if topic is None:
            raise TopicNotFound(name, self.name)
        topic.deleted = True
        topic.wake()

    async def describe_topic(self, name: str) -> TopicInfo:
        topic = self.space.topics.get(name)
        if topic is None:
            raise TopicNotFound(name, self.name)
        topic.enforce_retention()
        return TopicInfo(
            name=name,
            partitions=len(topic.partitions),
            retention=topic.retention,
            details={
                "space": self.space_name,
                "offsets": [(p.base, p.end) for p in topic.partitions],
                "messages": sum(len(p.records) for p in topic.partitions),
                "bytes": sum(p.bytes for p in topic.partitions),
                "groups": sorted(topic.groups),
            },
        )

    async def list_topics(self) -> list[str]:
        return list(self.space.topics)

    async def create_group(self, topic: str, group: str) -> bool:
        found = self.space.topics.get(topic)
        if found is None:
            raise TopicNotFound(topic, self.name)
        return ensure_group(found, group, Position.latest())[1]

    async def list_groups(self, topic: str) -> list[str]:
        found = self.space.topics.get(topic)
        if found is None:
            raise TopicNotFound(topic, self.name)
        return list(found.groups)

    async def group_exists(self, topic: str, group: str) -> bool:
        found = self.space.topics.get(topic)
        return found is not None and group in found.groups

    async def describe_group(self, topic: str, group: str) -> GroupInfo:
        found = self.space.topics.get(topic)
        if found is None:
            raise TopicNotFound(topic, self.name)
        found.enforce_retention()
        state = found.groups.get(group)
        lags: list[PartitionLag] = []
        for p in found.partitions:
            if state is None:
                lags.append(PartitionLag(p.index, None, p.end, 0))
                continue
            part = state.parts[p.index]
            part.skip_to(p.base)
            lags.append(PartitionLag(p.index, part.committed, p.end, p.end - part.committed))
        return GroupInfo(
            topic=topic,
            group=group,
            partitions=tuple(lags),
            members=len(state.members) if state else 0,
            in_flight=sum(len(p.inflight) for p in state.parts) if state else 0,
        )

    def producer(self, options: ProducerOptions) -> ProducerDriver:
        MemoryOptions.parse(options.extra, "producer")
        return MemoryProducer(self.context, options)

    def consumer(self, options: ConsumerOptions) -> ConsumerDriver:
        MemoryOptions.parse(options.extra, "consumer")
        return MemoryConsumer(self.context, options)
