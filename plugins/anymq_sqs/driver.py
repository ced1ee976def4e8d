"""``sqs://``: Amazon SQS with SNS fan-out, through aiobotocore.

One connection holds an SQS, an SNS and an STS client (STS once, for the account id that
ARNs need). Capabilities depend on the connection's mode: ``mode=sns`` (default) has
fan-out and broadcast, ``mode=queue`` has one group per topic. Every URL has partitions
and key order (a partitioned topic is FIFO); ``fifo=true`` makes every topic FIFO (key
order on one-partition topics too, no delays). Topic names never carry the ``.fifo``
suffix. See docs/backends/sqs.md.
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
from anymq.features import Capabilities, Feature, HeaderRule
from anymq.model import GroupInfo, Retention, TopicInfo
from anymq.url import URL
from anymq_sqs import codec, naming
from anymq_sqs.admin import Topology
from anymq_sqs.consumer import SQSConsumer
from anymq_sqs.context import SqsContext
from anymq_sqs.errors import BACKEND
from anymq_sqs.options import Settings, SqsOptions
from anymq_sqs.producer import SQSProducer

_BASE = {
    Feature.CONSUMER_GROUPS,
    Feature.DURABLE_GROUPS,
    Feature.DECLARED_GROUPS,
    Feature.LIST_GROUPS,
    Feature.DEAD_LETTER,
    Feature.NACK_DELAY,
    # a partitioned topic is FIFO, its partition the MessageGroupId (see producer.py)
    Feature.PARTITIONS,
    Feature.ROUND_ROBIN,
    Feature.KEY_ORDERING,
}

MAX_PARTITIONS = 1024
"""Partitions are message group ids, of which SQS has no limit; capped as the memory log."""


def capabilities(settings: Settings) -> Capabilities:
    """What this connection guarantees, from its mode and FIFO setting."""
    features = set(_BASE)
    if settings.mode == "sns":
        features |= {Feature.FAN_OUT, Feature.BROADCAST}
    if not settings.fifo:
        features.add(Feature.DELAYED_DELIVERY)  # FIFO queues have no per-message delay
    reserve = codec.DEAD_LETTER_RESERVE if settings.mode == "queue" else 0
    limit = codec.max_message_bytes(settings.max_message_size, reserve=reserve)
    return Capabilities(
        backend=BACKEND,
        features=frozenset(features),
        max_message_bytes=limit,
        max_batch=10,
        max_headers=codec.MAX_HEADERS,
        max_partitions=MAX_PARTITIONS,
        topic_names=naming.NAME_RULE,
        # Key and headers are attributes counted with the body: no limit of their own, and
        # names SQS refuses (or anymq.*) are packed, so only anymq's common prefix is kept.
        headers=HeaderRule(max_metadata_bytes=limit),
    )


class SQSBroker(BrokerDriver):
    """``sqs://`` (AWS) or ``sqs://host:port`` / ``?endpoint_url=`` (moto, LocalStack)."""

    name = BACKEND
    declared = SqsOptions

    def __init__(self, url: URL, options: Mapping[str, Any]) -> None:
        super().__init__(url, options)
        self.context = SqsContext(url, self.options)
        self.settings = self.context.settings
        self.capabilities = capabilities(self.settings)

    @property
    def topology(self) -> Topology:
        return self.context.topology

    def client(self, service: str) -> Any:
        """An aiobotocore client for ``service`` that connects exactly as this broker does
        (see :meth:`SqsContext.client`); the raw baseline of ``anymq compare`` uses it."""
        return self.context.client(service)

    async def start(self) -> None:
        await self.context.start()

    async def close(self) -> None:
        await self.context.close()

    def _check(self, topic: str) -> str:
        return self.context.check(topic)

    async def create_topic(
        self, name: str, *, partitions: int, retention: Retention, options: Mapping[str, Any]
    ) -> bool:
        SqsOptions.parse(options, "topic")
        self._check(name)
        return await self.topology.create_topic(name, partitions)

    async def delete_topic(self, name: str) -> None:
        self._check(name)
        await self.topology.delete_topic(name)

    async def describe_topic(self, name: str) -> TopicInfo:
        self._check(name)
        return await self.topology.describe_topic(name)

    async def list_topics(self) -> list[str]:
        return await self.topology.list_topics()

    async def create_group(self, topic: str, group: str) -> bool:
        """The group's queue, created and subscribed by the function a consumer's start uses."""
        self._check(topic)
        return (await self.topology.source(topic, group, create=False)).created

    async def list_groups(self, topic: str) -> list[str]:
        self._check(topic)
        return await self.topology.list_groups(topic)

    async def group_exists(self, topic: str, group: str) -> bool:
        self._check(topic)
        return await self.topology.group_exists(topic, group)

    async def describe_group(self, topic: str, group: str) -> GroupInfo:
        self._check(topic)
        return await self.topology.describe_group(topic, group)

    def producer(self, options: ProducerOptions) -> ProducerDriver:
        SqsOptions.parse(options.extra, "producer")
        return SQSProducer(self.context, options)

    def consumer(self, options: ConsumerOptions) -> ConsumerDriver:
        return SQSConsumer(self.context, options)

    def dead_letter_topic(self, topic: str, group: str | None) -> str:
        """``<topic>-DLT``: SQS and SNS names cannot contain '.'; FIFO if the topic is."""
        return naming.dead_letter_topic(topic)
