"""Producer behaviour on a real broker: batch receipts are the real offsets, large records
split into several record batches, missing topics fail fast, options are checked."""

from __future__ import annotations

import time
import uuid

import pytest

import anymq

pytestmark = [pytest.mark.kafka, pytest.mark.anymq]


async def _drain(consumer: anymq.Consumer, count: int) -> list[anymq.Received]:
    got: list[anymq.Received] = []
    deadline = time.monotonic() + 30
    while len(got) < count and time.monotonic() < deadline:
        batch = await consumer.receive(1000, timeout=1)
        for msg in batch:
            await msg.ack()
        got += batch
    return got


async def test_batch_receipts_are_the_stored_offsets(kafka_url: str) -> None:
    topic = f"anymq-kafka-receipts-{uuid.uuid4().hex[:8]}"
    async with anymq.connect(kafka_url) as broker:
        await broker.create_topic(topic, partitions=3)
        try:
            async with broker.consumer(topic, f"g-{topic}") as consumer:
                async with broker.producer(batch_size=4096, compression="gzip") as producer:
                    messages = [
                        anymq.Message(b"v%d" % i + b"." * (i % 300), key=b"k%d" % (i % 11))
                        for i in range(2000)
                    ]
                    messages += [anymq.Message(b"pinned", partition=2), anymq.Message(b"nokey")]
                    receipts = await producer.send_batch(topic, messages)
                    single = await producer.send(topic, b"single", key=b"k1")
                got = await _drain(consumer, len(messages) + 1)
        finally:
            await broker.delete_topic(topic)
    where = {(m.partition, m.offset): m.value for m in got}
    assert len(where) == len(messages) + 1, "duplicate or missing offsets"
    for receipt, message in zip(receipts, messages, strict=True):
        assert where[(receipt.partition, receipt.offset)] == message.value
    assert receipts[-2].partition == 2
    assert where[(single.partition, single.offset)] == b"single"


async def test_large_records_in_one_batch_call(kafka_url: str) -> None:
    topic = f"anymq-kafka-large-{uuid.uuid4().hex[:8]}"
    async with anymq.connect(kafka_url) as broker:
        limit = broker.capabilities.max_message_bytes
        await broker.create_topic(topic, partitions=2)
        try:
            async with broker.consumer(topic, f"g-{topic}") as consumer:
                async with broker.producer() as producer:
                    bodies = [bytes([i]) * (limit - 10) for i in range(4)] + [b"small"] * 3
                    receipts = await producer.send_batch(
                        topic, [anymq.Message(b, key=b"same") for b in bodies]
                    )
                got = await _drain(consumer, len(bodies))
        finally:
            await broker.delete_topic(topic)
    assert [m.value for m in sorted(got, key=lambda m: m.offset or 0)] == bodies
    assert [r.offset for r in receipts] == sorted(r.offset for r in receipts)


async def test_missing_topic_and_bad_partition_fail_fast(kafka_url: str) -> None:
    async with anymq.connect(kafka_url) as broker, broker.producer() as producer:
        started = time.monotonic()
        with pytest.raises(anymq.TopicNotFound):
            await producer.send(f"anymq-kafka-missing-{uuid.uuid4().hex[:8]}", b"x")
        with pytest.raises(anymq.TopicNotFound):
            await producer.send_batch(f"anymq-kafka-missing-{uuid.uuid4().hex[:8]}", [b"x"])
        assert time.monotonic() - started < 10
        topic = f"anymq-kafka-parts-{uuid.uuid4().hex[:8]}"
        await broker.create_topic(topic, partitions=2)
        try:
            with pytest.raises(anymq.ConfigError, match="partition 5 does not exist"):
                await producer.send_batch(
                    topic, [anymq.Message(b"a"), anymq.Message(b"b", partition=5)]
                )
        finally:
            await broker.delete_topic(topic)


async def test_producer_options_are_checked(kafka_url: str) -> None:
    async with anymq.connect(kafka_url) as broker:
        with pytest.raises(anymq.ConfigError, match="compression must be one of"):
            broker.producer(compression="brotli")
        with pytest.raises(anymq.ConfigError, match="valid: acks, enable_idempotence"):
            broker.producer(ack="all")
        with pytest.raises(anymq.ConfigError, match="needs acks=all"):
            broker.producer(acks=1, enable_idempotence=True)
        async with broker.producer(acks=1) as producer:  # acks=1 alone: idempotence off
            assert producer.driver.kwargs["enable_idempotence"] is False  # type: ignore[attr-defined]
