"""Client-side acks on Kafka: the commit frontier, done offsets and delivery counts that
travel in the commit metadata, across consumers on a real broker."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

import anymq
from anymq_kafka.tracker import MAX_METADATA, Track, decode, encode

pytestmark = [pytest.mark.kafka, pytest.mark.anymq]


def test_metadata_roundtrip_and_limits() -> None:
    text = encode({101, 102, 103, 110}, {100: 2, 104: 1, 105: 1, 106: 3}, 100)
    assert decode(text, 100) == ({101, 102, 103, 110}, {100: 2, 104: 1, 105: 1, 106: 3})
    assert decode("not ours", 5) == (set(), {})
    assert decode("anymq1:x-y", 5) == (set(), {})
    huge = encode(set(range(1, 200_000, 2)), {o: 1 for o in range(0, 200_000, 2)}, 0)
    assert len(huge) <= MAX_METADATA
    done, _ = decode(huge, 0)
    assert min(done) == 1, "the lowest done offsets are kept when the metadata is full"


def test_frontier_never_passes_an_unsettled_offset() -> None:
    track = Track(None, 10, done={13})
    for offset in range(10, 16):
        assert track.fetched(offset) is (offset != 13)
    track.ack(11)
    track.ack(12)
    assert track.frontier() == 10, "10 is unacked: nothing may be committed past it"
    track.ack(10)
    assert track.frontier() == 14, "11-13 were done: the frontier jumps over them"
    offset, metadata = track.commit_point({14: 2})
    assert offset == 14
    assert decode(metadata, offset) == (set(), {14: 2, 15: 1})


async def test_done_offsets_and_counts_survive_a_handover(kafka_url: str) -> None:
    topic = f"anymq-kafka-handover-{uuid.uuid4().hex[:8]}"
    group = f"handover-{uuid.uuid4().hex[:8]}"
    async with anymq.connect(kafka_url) as broker:
        await broker.create_topic(topic)
        try:
            first = broker.consumer(topic, group, max_deliveries=2)
            dlt = first.dead_letter_topic
            assert dlt == f"{topic}.DLT"
            async with first, broker.producer() as producer:
                receipts = await producer.send_batch(topic, [b"a", b"b", b"poison", b"d"])
                got = await _receive(first, 4)
                by_value = {m.value: m for m in got}
                await by_value[b"b"].ack()
                await by_value[b"d"].ack()
                # "a" and "poison" stay unacked: the close hands them back to the group.
            info = await broker.describe_group(topic, group)
            [part] = info.partitions
            assert part.committed == receipts[0].offset, "committed past an unacked message"
            assert info.backlog == 2, "b and d are done; only a and poison wait"
            async with broker.consumer(topic, group, max_deliveries=2) as second:
                again = await _receive(second, 2)
                assert sorted(m.value for m in again) == [b"a", b"poison"]
                assert {m.delivery_count for m in again} == {2}, "the count kept counting"
                for msg in again:
                    if msg.value == b"poison":
                        await msg.nack()  # second delivery: the limit, off to the DLT
                    else:
                        await msg.ack()
                assert await second.receive(10, timeout=1) == []
            async with broker.consumer(dlt, f"{group}-dlt", start="earliest") as dead:
                [letter] = await _receive(dead, 1)
            assert letter.value == b"poison"
            assert letter.headers["kafka_dlt-original-topic"] == topic.encode()
            assert letter.headers["kafka_dlt-original-offset"] == (2).to_bytes(8, "big")
            assert letter.headers["anymq-delivery-count"] == b"2"
            await _eventually_backlog(broker, topic, group, 0)
        finally:
            await broker.delete_topic(topic)
            await broker.delete_topic(f"{topic}.DLT")


async def _receive(consumer: anymq.Consumer, count: int) -> list[anymq.Received]:
    got: list[anymq.Received] = []
    deadline = time.monotonic() + 20
    while len(got) < count and time.monotonic() < deadline:
        got += await consumer.receive(count - len(got), timeout=1)
    return got


async def _eventually_backlog(broker: anymq.Broker, topic: str, group: str, want: int) -> None:
    deadline = time.monotonic() + 10
    while (await broker.describe_group(topic, group)).backlog != want:
        assert time.monotonic() < deadline, f"backlog did not reach {want}"
        await asyncio.sleep(0.1)


async def test_consumer_without_group_replays_by_offset_and_time(kafka_url: str) -> None:
    topic = f"anymq-kafka-replay-{uuid.uuid4().hex[:8]}"
    async with anymq.connect(kafka_url) as broker:
        await broker.create_topic(topic, partitions=2)
        try:
            async with broker.consumer(topic) as consumer, broker.producer() as producer:
                first = await producer.send_batch(topic, [b"a0", b"a1", b"a2"])
                assert len(await _receive(consumer, 3)) == 3
                await asyncio.sleep(0.05)
                late = await producer.send_batch(topic, [b"b0", b"b1"])
                got = await _receive(consumer, 2)
                assert sorted(m.value for m in got) == [b"b0", b"b1"]
                when = min(m.timestamp for m in got if m.timestamp is not None)
                await consumer.seek(anymq.Position.at_time(when))
                again = await _receive(consumer, 2)
                assert sorted(m.value for m in again) == [b"b0", b"b1"]
                await consumer.seek(anymq.Position.earliest())
                everything = await _receive(consumer, 5)
                assert sorted(m.value for m in everything) == [b"a0", b"a1", b"a2", b"b0", b"b1"]
                target = first[1]
                sent = zip([b"a0", b"a1", b"a2", b"b0", b"b1"], [*first, *late], strict=True)
                expected = sorted(
                    value
                    for value, r in sent
                    if r.partition == target.partition and (r.offset or 0) >= (target.offset or 0)
                )
                await consumer.seek(anymq.Position.at_offset(target.offset or 0, target.partition))
                tail = await _receive(consumer, len(expected))
                tail += await consumer.receive(10, timeout=0.5)
                assert sorted(m.value for m in tail) == expected
        finally:
            await broker.delete_topic(topic)
