"""The consume fast path on a real broker: records fetched as Received messages, and acks
deferred to the driver (see anymq_kafka.fetch and KafkaConsumer.acker)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

import anymq
import anymq_kafka.fetch
from anymq_kafka.consumer import KafkaConsumer

pytestmark = [pytest.mark.kafka, pytest.mark.anymq]


@contextlib.asynccontextmanager
async def new_topic(kafka_url: str) -> AsyncIterator[str]:
    name = f"anymq-kafka-fetch-{uuid.uuid4().hex[:8]}"
    async with anymq.connect(kafka_url) as broker:
        await broker.create_topic(name)
        try:
            yield name
        finally:
            await broker.delete_topic(name)


def _servers(kafka_url: str) -> list[str]:
    return [f"{h}:{p}" for h, p in anymq.URL.parse(kafka_url).hosts]


async def _send_raw(kafka_url: str, topic: str) -> None:
    """Two records from a plain aiokafka producer; one header has no value (null)."""
    raw = AIOKafkaProducer(bootstrap_servers=_servers(kafka_url))
    await raw.start()
    try:
        await raw.send_and_wait(topic, b"first", key=b"k", headers=[("a", b"1"), ("n", None)])
        await raw.send_and_wait(topic, None, key=b"k")
    finally:
        await raw.stop()


async def _take(consumer: anymq.Consumer, count: int) -> list[anymq.Received]:
    got: list[anymq.Received] = []
    deadline = time.monotonic() + 20
    while len(got) < count and time.monotonic() < deadline:
        got += await consumer.receive(count - len(got), timeout=1)
    return got


def _driver(consumer: anymq.Consumer) -> KafkaConsumer:
    driver = consumer.driver
    assert isinstance(driver, KafkaConsumer)
    return driver


async def _check_messages(kafka_url: str, topic: str, *, native: bool) -> None:
    group = f"fetch-{uuid.uuid4().hex[:8]}"
    async with anymq.connect(kafka_url) as broker:
        async with broker.consumer(topic, group, start="earliest") as consumer:
            assert _driver(consumer).native is native
            await _send_raw(kafka_url, topic)
            first, second = await _take(consumer, 2)
            assert (first.value, first.key, first.offset) == (b"first", b"k", 0)
            assert first.headers == {"a": b"1", "n": b""}, "a null header value reads as b''"
            assert second.value == b"", "a null value reads as b''"
            assert second.headers == {}
            assert first.delivery_count == 1
            assert first.timestamp_ms
            await first.ack()
            await second.nack()  # redelivered with the next delivery count
            [again] = await _take(consumer, 1)
            assert (again.offset, again.delivery_count) == (1, 2)
            await again.ack()
        info = await broker.describe_group(topic, group)
        assert info.backlog == 0, "close commits the deferred acks"


async def test_records_are_fetched_as_received_messages(kafka_url: str) -> None:
    async with new_topic(kafka_url) as topic:
        await _check_messages(kafka_url, topic, native=True)


async def test_without_the_fetch_hook_records_are_copied(
    kafka_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If aiokafka's fetcher changes shape, the driver copies ConsumerRecords instead."""
    monkeypatch.setattr(anymq_kafka.fetch, "install", lambda client, driver: False)
    async with new_topic(kafka_url) as topic:
        await _check_messages(kafka_url, topic, native=False)


async def test_other_aiokafka_consumers_are_untouched(kafka_url: str) -> None:
    async with new_topic(kafka_url) as topic:
        async with (
            anymq.connect(kafka_url) as broker,
            broker.consumer(topic, start="earliest") as ours,
        ):
            raw = AIOKafkaConsumer(
                topic, bootstrap_servers=_servers(kafka_url), auto_offset_reset="earliest"
            )
            await raw.start()
            try:
                await _send_raw(kafka_url, topic)
                records = await raw.getmany(timeout_ms=10_000)
                theirs = [r for batch in records.values() for r in batch]
                mine = await _take(ours, 2)
            finally:
                await raw.stop()
        assert theirs
        assert all(type(r) is ConsumerRecord for r in theirs)
        assert [m.value for m in mine] == [b"first", b""]


async def test_deferred_acks_are_committed_while_the_consumer_idles(kafka_url: str) -> None:
    """Acks made well after delivery, with no receive() after them, still reach the broker:
    the committer keeps draining deferred acks while messages are in flight."""
    async with new_topic(kafka_url) as topic, anymq.connect(kafka_url) as broker:
        group = f"idle-{uuid.uuid4().hex[:8]}"
        async with (
            broker.consumer(topic, group, start="earliest") as consumer,
            broker.producer() as producer,
        ):
            await producer.send_batch(topic, [b"%d" % i for i in range(5)])
            got = await _take(consumer, 5)
            await asyncio.sleep(0.5)  # past a commit round that found nothing acked
            for msg in got:
                await msg.ack()
            deadline = time.monotonic() + 10
            while (await broker.describe_group(topic, group)).backlog != 0:
                assert time.monotonic() < deadline, "deferred acks were never committed"
                await asyncio.sleep(0.1)
            assert await consumer.receive(10, timeout=0.5) == [], "nothing acked comes back"


async def test_ack_after_close_fails_loudly(kafka_url: str) -> None:
    async with new_topic(kafka_url) as topic:
        group = f"closed-{uuid.uuid4().hex[:8]}"
        async with anymq.connect(kafka_url) as broker:
            async with broker.producer() as producer:
                await producer.send(topic, b"late")
            consumer = broker.consumer(topic, group, start="earliest")
            async with consumer:
                [msg] = await _take(consumer, 1)
            with pytest.raises(anymq.ClosedError, match="redelivered"):
                await msg.ack()
            async with broker.consumer(topic, group) as again:
                [back] = await _take(again, 1)
                assert (back.value, back.delivery_count) == (b"late", 2)
                await back.ack()


async def test_first_message_after_start_is_not_held_back(kafka_url: str) -> None:
    """start() leaves aiokafka's fetcher at the group's position and awake. It could miss
    the wake-up of a seek made during the join and sit out its 0.2 s fetcher timeout: the
    first message after start() then came 0.2 s late, in about one start in 15 (normally it
    takes a few milliseconds, so the bound below is far from both)."""
    async with (
        new_topic(kafka_url) as topic,
        anymq.connect(kafka_url) as broker,
        broker.producer() as producer,
    ):
        await producer.send_batch(topic, [b"old"] * 50)
        waits = []
        for _ in range(30):
            group = f"first-{uuid.uuid4().hex[:8]}"
            async with broker.consumer(topic, group) as consumer:
                started = time.monotonic()
                await producer.send(topic, b"new")
                [msg] = await _take(consumer, 1)
                waits.append(time.monotonic() - started)
                assert msg.value == b"new", "start=latest skips what was there"
                await msg.ack()
    slow = [round(w, 3) for w in waits if w >= 0.1]
    assert not slow, f"{len(slow)} of {len(waits)} first messages were held back: {slow} s"


async def test_acks_out_of_order_across_partitions_never_pass_an_unacked_message(
    kafka_url: str,
) -> None:
    """Acks are recorded per run of one partition's messages; a run that is not the
    partition's next messages in order (here p0:2 while p0:1 is open) must not move the
    frontier past the open one."""
    async with anymq.connect(kafka_url) as broker:
        topic = f"anymq-kafka-runs-{uuid.uuid4().hex[:8]}"
        group = f"runs-{uuid.uuid4().hex[:8]}"
        await broker.create_topic(topic, partitions=2)
        try:
            async with broker.producer() as producer:
                await producer.send_batch(
                    topic,
                    [anymq.Message(b"p0-%d" % i, partition=0) for i in range(3)]
                    + [anymq.Message(b"p1-0", partition=1)],
                )
            async with broker.consumer(topic, group, start="earliest") as consumer:
                got = {(m.partition, m.offset): m for m in await _take(consumer, 4)}
                assert set(got) == {(0, 0), (0, 1), (0, 2), (1, 0)}
                await consumer.ack_many([got[0, 0], got[1, 0], got[0, 2]])
            info = await broker.describe_group(topic, group)
            committed = {p.partition: p.committed for p in info.partitions}
            assert committed == {0: 1, 1: 1}, "p0:1 was never acked: p0 commits up to it"
            async with broker.consumer(topic, group) as again:
                [back] = await _take(again, 1)
                assert (back.partition, back.offset, back.value) == (0, 1, b"p0-1")
                assert await again.receive(10, timeout=1) == [], "p0:2 was done: skipped"
                await back.ack()
        finally:
            await broker.delete_topic(topic)
