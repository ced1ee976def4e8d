"""``kafka://host:port[,host:port…]`` and ``kafka+ssl://``: Apache Kafka through aiokafka.

The broker driver only wires: it builds the connection's
:class:`~anymq_kafka.context.KafkaContext` (settings, the admin connection for topics, groups
and metadata) and hands it to the producers and consumers it makes, which each own an
aiokafka client. See docs/backends/kafka.md for
how anymq's model maps onto Kafka and for every option.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiokafka import codec  # type: ignore[import-untyped]

from anymq.backend import (
    BrokerDriver,
    ConsumerDriver,
    ConsumerOptions,
    ProducerDriver,
    ProducerOptions,
)
from anymq.errors import ClosedError
from anymq.features import Capabilities, Feature, HeaderRule, NameRule
from anymq.model import GroupInfo, Retention, TopicInfo
from anymq.url import URL
from anymq_kafka import options as opts
from anymq_kafka.consumer import KafkaConsumer
from anymq_kafka.context import KafkaContext
from anymq_kafka.producer import KafkaProducer

#: What aiokafka can compress with in this process: gzip always; snappy, lz4 and zstd only
#: with their library (cramjam for aiokafka >= 0.12), so a missing one is refused up front.
CODECS = frozenset(
    name
    for name, available in (
        ("gzip", codec.has_gzip),
        ("snappy", codec.has_snappy),
        ("lz4", codec.has_lz4),
        ("zstd", codec.has_zstd),
    )
    if available()
)

CAPABILITIES = Capabilities(
    backend="kafka",
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
            Feature.NACK_DELAY,
            Feature.RETENTION_TIME,
            Feature.RETENTION_BYTES,
            Feature.COMPRESSION,
        }
    ),
    compression=CODECS,
    # The broker's default max.message.bytes is 1048588 for a whole record batch; 1,000,000
    # bytes of value + key + headers leave room for the batch and record overhead.
    max_message_bytes=1_000_000,
    max_batch=10_000,
    max_headers=None,
    max_partitions=10_000,
    # Key and headers travel in the record with the value: no limit of their own.
    headers=HeaderRule(max_metadata_bytes=1_000_000),
    topic_names=NameRule(
        r"(?!\.{1,2}$)[A-Za-z0-9._-]{1,249}",
        "1 to 249 characters from A-Z, a-z, 0-9, '.', '_' and '-' (not '.' or '..')",
    ),
)


class KafkaBroker(BrokerDriver):
    """A connection to a Kafka cluster (any bootstrap server of it)."""

    name = "kafka"
    capabilities = CAPABILITIES
    declared = opts.KafkaOptions

    def __init__(self, url: URL, options: Mapping[str, Any]) -> None:
        super().__init__(url, options)
        self.settings = opts.parse(url, self.options)
        self.context = KafkaContext(
            self.settings, self.options, self.capabilities.max_message_bytes
        )
        self.admin = self.context.admin
        self._started = False
        self._closed = False

    def __repr__(self) -> str:
        return f"<KafkaBroker {self.url.render()}>"

    async def start(self) -> None:
        await self.context.start()
        self._started = True

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._started:
            await self.context.close()

    def _check(self) -> None:
        if self._closed or not self._started:
            raise ClosedError("the Kafka connection is closed")

    async def create_topic(
        self, name: str, *, partitions: int, retention: Retention, options: Mapping[str, Any]
    ) -> bool:
        self._check()
        return await self.admin.create_topic(name, partitions, retention, options)

    async def delete_topic(self, name: str) -> None:
        self._check()
        await self.admin.delete_topic(name)

    async def describe_topic(self, name: str) -> TopicInfo:
        self._check()
        return await self.admin.describe_topic(name)

    async def list_topics(self) -> list[str]:
        self._check()
        return await self.admin.list_topics()

    async def create_group(self, topic: str, group: str) -> bool:
        self._check()
        return await self.admin.create_group(topic, group)

    async def list_groups(self, topic: str) -> list[str]:
        self._check()
        return await self.admin.list_groups(topic)

    async def describe_group(self, topic: str, group: str) -> GroupInfo:
        self._check()
        return await self.admin.describe_group(topic, group)

    def producer(self, options: ProducerOptions) -> ProducerDriver:
        return KafkaProducer(self.context, options)

    def consumer(self, options: ConsumerOptions) -> ConsumerDriver:
        return KafkaConsumer(self.context, options)
