"""The Kafka producer driver: acks=all and idempotence by default, Java-compatible keys.

aiokafka's DefaultPartitioner already places keys like the Java client (murmur2); the
round-robin option ignores keys and cycles through partitions. ``send`` returns after the
broker acknowledged the record; ``send_batch`` enqueues every record first and then awaits
the acknowledgements, so batches fill and the network is kept busy.

Each producer checks a topic against the broker the first time it sends to it (the
connection's cache may be stale) and then watches its client's metadata
(:class:`~anymq_kafka.watch.TopicWatch`): when another client deletes the topic, the records
aiokafka would retry until ``request_timeout_ms`` fail at once with TopicNotFound.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]
from aiokafka import errors as kerr
from aiokafka.partitioner import DefaultPartitioner  # type: ignore[import-untyped]

from anymq.backend import Outgoing, ProducerDriver, ProducerOptions
from anymq.errors import AnyMQError, ClosedError, ConfigError, TopicNotFound
from anymq.message import Receipt
from anymq_kafka.context import KafkaContext
from anymq_kafka.errors import mapped, start_client
from anymq_kafka.options import KafkaOptions
from anymq_kafka.watch import TopicWatch


class RoundRobin:
    """aiokafka partitioner that spreads messages evenly over all partitions, keys ignored."""

    def __init__(self) -> None:
        self._counter = itertools.count(random.randrange(1 << 16))

    def __call__(self, key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
        return all_partitions[next(self._counter) % len(all_partitions)]


def producer_kwargs(context: KafkaContext, options: ProducerOptions) -> dict[str, Any]:
    """aiokafka producer arguments from the connection's defaults and this producer's options."""
    settings = KafkaOptions.parse(options.extra, "producer", defaults=context.defaults)
    kwargs: dict[str, Any] = context.settings.client_kwargs()
    kwargs["acks"] = settings.acks
    idempotent = settings.enable_idempotence
    kwargs["enable_idempotence"] = settings.acks == "all" if idempotent is None else idempotent
    if kwargs["enable_idempotence"] and kwargs["acks"] != "all":
        raise ConfigError("enable_idempotence=true needs acks=all (Kafka's rule)")
    if settings.max_request_size is not None:
        kwargs["max_request_size"] = settings.max_request_size
    kwargs["partitioner"] = (
        RoundRobin() if options.partitioner == "round_robin" else DefaultPartitioner()
    )
    if options.batch_size is not None:
        kwargs["max_batch_size"] = options.batch_size
    if options.linger is not None:
        kwargs["linger_ms"] = int(options.linger * 1000)
    if options.compression is not None:  # a codec from CODECS (checked by the core)
        kwargs["compression_type"] = options.compression
    return kwargs


class KafkaProducer(ProducerDriver):
    """One AIOKafkaProducer; topics are checked once against metadata, then watched."""

    def __init__(self, context: KafkaContext, options: ProducerOptions) -> None:
        self.context = context
        self.kwargs = producer_kwargs(context, options)
        self.partitioner = self.kwargs["partitioner"]
        self.limit = context.limit
        self.client: Any = None
        self.closed = False
        self.partitions: dict[str, int] = {}
        """Partition counts of the topics this producer sends to (dropped when deleted)."""
        self.watch: TopicWatch | None = None

    async def start(self) -> None:
        settings = self.context.settings
        client = AIOKafkaProducer(**self.kwargs)
        await start_client(client.start(), client.stop, settings.hosts, settings.connect_timeout)
        self.client = client
        self.watch = TopicWatch(self.context.admin, client.client.cluster, self._topic_gone)

    async def _partitions(self, topic: str) -> int:
        """First send to ``topic``: ask a broker (never the cache), then watch the topic."""
        if self.closed or self.client is None or self.watch is None:
            raise ClosedError("producer is closed")
        known = await self.context.partitions(topic)
        self.partitions[topic] = known
        self.watch.add(topic)
        return known

    def _topic_gone(self, topic: str) -> None:
        """Fail the records aiokafka holds for a deleted topic (it would retry them until
        request_timeout_ms, then fail them with NotLeaderForPartitionError)."""
        self.partitions.pop(topic, None)
        client = self.client
        accumulator: Any = getattr(client, "_message_accumulator", None)
        batches = getattr(accumulator, "_batches", None)
        if not isinstance(batches, dict) or not hasattr(accumulator, "_pop_batch"):
            return  # aiokafka changed shape: its own timeout fails the records
        for tp in [tp for tp in batches if tp.topic == topic]:
            while tp in batches:  # _pop_batch removes the key with its last batch
                accumulator._pop_batch(tp).failure(exception=kerr.UnknownTopicOrPartitionError())

    def _error(self, exc: BaseException, topic: str, size: int) -> AnyMQError:
        if isinstance(exc, kerr.KafkaTimeoutError) and topic not in self.partitions:
            return TopicNotFound(topic, "kafka")
        if isinstance(exc, kerr.UnknownTopicOrPartitionError):
            self.partitions.pop(topic, None)
        return mapped(exc, topic=topic, hosts=self.context.hosts, size=size, limit=self.limit)

    async def send(self, topic: str, message: Outgoing) -> Receipt:
        partitions = self.partitions.get(topic) or await self._partitions(topic)
        if message.partition is not None and message.partition >= partitions:
            raise _no_partition(topic, message.partition, partitions)
        headers = message.headers
        try:
            future = await self.client.send(
                topic,
                message.value,
                key=message.key,
                partition=message.partition,
                headers=list(headers.items()) if headers else None,
            )
            meta = await future
        except (kerr.KafkaError, AssertionError) as exc:
            raise self._error(exc, topic, message.size) from exc
        return Receipt(topic, meta.partition, meta.offset)

    async def send_batch(self, topic: str, messages: Sequence[Outgoing]) -> list[Receipt]:
        """Build closed record batches per partition, submit them interleaved, then await.

        One future per record batch instead of one per message: the partition is picked with
        the same partitioner ``send`` uses, and a record's offset is the batch's base offset
        plus its index in the batch. Batches are submitted round robin over the partitions,
        so each produce request carries a batch for every partition (aiokafka queues one
        undrained batch per partition).
        """
        partitions = self.partitions.get(topic) or await self._partitions(topic)
        for m in messages:  # all or nothing: check before the first record is queued
            if m.partition is not None and m.partition >= partitions:
                raise _no_partition(topic, m.partition, partitions)
        client = self.client
        size = 0
        try:
            everything = sorted(await client.partitions_for(topic))
            available = list(client.client.cluster.available_partitions_for_topic(topic))
            pick = self.partitioner
            by_partition: dict[int, list[int]] = {}
            for index, m in enumerate(messages):
                p = m.partition
                if p is None:
                    p = pick(m.key, everything, available)
                by_partition.setdefault(p, []).append(index)
            built: list[list[tuple[Any, int, list[int]]]] = []
            for p, indexes in by_partition.items():
                chain: list[tuple[Any, int, list[int]]] = []
                batch = client.create_batch()
                members: list[int] = []
                for index in indexes:
                    m = messages[index]
                    size = m.size
                    # a list, not None: aiokafka < 0.12's C batch builder needs one
                    headers = list(m.headers.items()) if m.headers else []
                    if batch.append(key=m.key, value=m.value, timestamp=None, headers=headers):
                        members.append(index)
                        continue
                    if members:  # full: close it and start the next one with this message
                        batch.close()
                        chain.append((batch, p, members))
                        batch = client.create_batch()
                        members = []
                    if not batch.append(key=m.key, value=m.value, timestamp=None, headers=headers):
                        raise kerr.MessageSizeTooLargeError("larger than max_request_size")
                    members.append(index)
                if members:
                    batch.close()
                    chain.append((batch, p, members))
                built.append(chain)
            submitted: list[tuple[Any, int, list[int]]] = []
            for round_ in itertools.zip_longest(*built):
                for item in round_:
                    if item is not None:
                        batch, p, members = item
                        future = await client.send_batch(batch, topic, partition=p)
                        submitted.append((future, p, members))
            receipts: list[Receipt | None] = [None] * len(messages)
            for future, p, members in submitted:
                base = (await future).offset
                for position, index in enumerate(members):
                    receipts[index] = Receipt(topic, p, base + position)
        except (kerr.KafkaError, AssertionError) as exc:
            raise self._error(exc, topic, size) from exc
        return receipts  # type: ignore[return-value]

    async def flush(self) -> None:
        if self.client is not None:
            await self.client.flush()

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        watch, self.watch = self.watch, None
        if watch is not None:
            watch.close()
        self.partitions.clear()
        client, self.client = self.client, None
        if client is not None:
            await client.stop()


def _no_partition(topic: str, partition: int, partitions: int) -> ConfigError:
    return ConfigError(
        f"partition {partition} does not exist: topic {topic!r} has {partitions} partition(s); "
        "nothing was sent"
    )
