"""Partitioned topics on RabbitMQ (classic mode): keys placed like Kafka's Java client, one
queue per partition per group, each consumed by one member at a time, partitions spread
over the group's members and handed over without breaking any key's order.

Handover cases: a member joining (the old owner finishes what it holds, then gives the
partition up), a member holding messages past ``handover_timeout`` (they come back to the
new owner first, marked redelivered), a member leaving (its partitions move at once) and a
member SIGKILLed in another process (its partitions move after ``member_timeout``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator

import aiormq
import pytest

import anymq
from anymq.client import Broker, Consumer
from anymq.message import Received
from anymq.partitioners import key_partition
from anymq_rabbitmq.naming import Names
from tests.failover import KilledMember
from tests.rabbitmq.helpers import queue_exists, with_query

pytestmark = [pytest.mark.rabbitmq, pytest.mark.anymq]

MODES = ("classic", "stream")


@pytest.fixture(params=MODES)
def url(rabbitmq_url: str, request: pytest.FixtureRequest) -> str:
    """The server in each mode: classic queues, or a stream per partition (mode=stream)."""
    return with_query(rabbitmq_url, mode="stream") if request.param == "stream" else rabbitmq_url


def _name(label: str) -> str:
    return f"anymq-rmq-part-{label}-{uuid.uuid4().hex[:8]}"


@contextlib.asynccontextmanager
async def _topic(broker: Broker, partitions: int, label: str = "t") -> AsyncIterator[str]:
    name = _name(label)
    await broker.create_topic(name, partitions=partitions)
    try:
        yield name
    finally:
        with contextlib.suppress(anymq.TopicNotFound):
            await broker.delete_topic(name)


def _seq(msg: Received) -> int:
    return int(msg.value.split(b":")[1])


class Log:
    """Every message in the order the test process received it, with who received it."""

    def __init__(self) -> None:
        self.order: list[tuple[str, Received]] = []

    def per_key(self) -> dict[bytes, list[int]]:
        out: dict[bytes, list[int]] = defaultdict(list)
        for _, msg in self.order:
            out[msg.key or b""].append(_seq(msg))
        return out

    def partitions_of(self, who: str) -> set[int | None]:
        return {m.partition for w, m in self.order if w == who}


async def _drain(
    who: str, consumer: Consumer, log: Log, stop: asyncio.Event, ack_after: float = 0.0
) -> None:
    while not stop.is_set():
        for msg in await consumer.receive(max_messages=10, timeout=0.1):
            log.order.append((who, msg))
            if ack_after:
                await asyncio.sleep(ack_after)
            await msg.ack()


async def _until(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_keys_placed_like_kafka_and_reported_on_receive(url: str) -> None:
    async with anymq.connect(url) as broker, _topic(broker, 4) as topic:
        async with broker.consumer(topic, "g") as consumer, broker.producer() as producer:
            placed = {}
            for k in range(20):
                key = b"user-%d" % k
                receipt = await producer.send(topic, b"%d:0" % k, key=key)
                placed[key] = receipt.partition
            got: list[Received] = []
            while len(got) < 20:
                got += await consumer.receive(20, 5.0)
        info = await broker.describe_topic(topic)
    assert info.partitions == 4
    assert placed == {key: key_partition(key, 4) for key in placed}
    assert {m.key: m.partition for m in got} == placed


async def test_key_order_while_a_second_member_joins(url: str) -> None:
    keys, per_key = 16, 40
    log, stop = Log(), asyncio.Event()
    async with anymq.connect(url) as broker, _topic(broker, 4) as topic:
        first = broker.consumer(topic, "g", prefetch=10)
        await first.start()
        tasks = [asyncio.create_task(_drain("first", first, log, stop, 0.001))]
        second = broker.consumer(topic, "g", prefetch=10)
        async with broker.producer() as producer:
            for seq in range(per_key):
                if seq == per_key // 3:
                    await second.start()
                    tasks.append(asyncio.create_task(_drain("second", second, log, stop)))
                for k in range(keys):
                    await producer.send(topic, b"%d:%d" % (k, seq), key=b"k%d" % k)
                await asyncio.sleep(0.01)
        await _until(lambda: len(log.order) >= keys * per_key, 30, "every message")
        await asyncio.sleep(0.3)
        stop.set()
        await asyncio.gather(*tasks)
        await first.close()
        await second.close()
    per_key_seen = log.per_key()
    assert len(log.order) == keys * per_key, "duplicates or losses without any crash"
    for key, order in per_key_seen.items():
        assert order == list(range(per_key)), f"{key!r} out of order: {order}"
    assert log.partitions_of("second"), "the joining member never got a partition"


async def test_four_partitions_spread_two_and_two_over_two_members(url: str) -> None:
    async with (
        anymq.connect(url) as broker,
        _topic(broker, 4) as topic,
        broker.consumer(topic, "g") as a,
        broker.consumer(topic, "g") as b,
        broker.producer() as producer,
    ):
        deadline = time.monotonic() + 15
        while True:
            for p in range(4):
                await producer.send(topic, b"p%d:0" % p, partition=p)
            got: dict[str, set[int | None]] = {"a": set(), "b": set()}
            count = 0
            while count < 4:
                for who, consumer in (("a", a), ("b", b)):
                    for msg in await consumer.receive(10, 0.1):
                        got[who].add(msg.partition)
                        count += 1
                        await msg.ack()
            if len(got["a"]) == 2 and len(got["b"]) == 2:
                break
            assert time.monotonic() < deadline, f"partitions not spread 2/2: {got}"
            await asyncio.sleep(0.2)
    assert got["a"] | got["b"] == {0, 1, 2, 3}
    assert not got["a"] & got["b"]


async def test_ordering_across_a_handover_with_messages_in_hand(url: str) -> None:
    """The old owner holds a batch unsettled while a member joins: the new owner gets
    nothing of the moving partitions until the old one acked its batch."""
    async with (
        anymq.connect(url) as broker,
        _topic(broker, 2) as topic,
        broker.producer() as producer,
    ):
        first = broker.consumer(topic, "g", prefetch=50)
        await first.start()
        for seq in range(20):
            for p in (0, 1):
                await producer.send(topic, b"p%d:%d" % (p, seq), partition=p, key=b"p%d" % p)
        held: list[Received] = []
        while len(held) < 10:
            held += await first.receive(10 - len(held), 5.0)
        second = broker.consumer(topic, "g", prefetch=50)
        await second.start()
        early = await second.receive(50, 1.0)  # the handover waits for the held batch
        assert early == [], f"new owner got {[m.value for m in early]} before the old acked"
        log, stop = Log(), asyncio.Event()
        log.order += [("first", m) for m in held]
        for msg in held:
            await msg.ack()
        tasks = [
            asyncio.create_task(_drain("first", first, log, stop)),
            asyncio.create_task(_drain("second", second, log, stop)),
        ]
        await _until(lambda: len(log.order) >= 40, 20, "every message")
        await asyncio.sleep(0.3)
        stop.set()
        await asyncio.gather(*tasks)
        await first.close()
        await second.close()
    assert len(log.order) == 40
    for key, order in log.per_key().items():
        assert order == list(range(20)), f"{key!r} out of order: {order}"
    assert log.partitions_of("second"), "the joining member never got a partition"


async def test_messages_held_past_handover_timeout_come_back_first(url: str) -> None:
    async with (
        anymq.connect(url, handover_timeout=0.5) as broker,
        _topic(broker, 2) as topic,
        broker.producer() as producer,
    ):
        first = broker.consumer(topic, "g", prefetch=50)
        await first.start()
        for seq in range(10):
            for p in (0, 1):
                await producer.send(topic, b"p%d:%d" % (p, seq), partition=p)
        held: list[Received] = []
        while len(held) < 20:
            held += await first.receive(20 - len(held), 5.0)  # never settled
        second = broker.consumer(topic, "g", prefetch=50)
        await second.start()
        moved: list[Received] = []
        deadline = time.monotonic() + 15
        while len(moved) < 10 and time.monotonic() < deadline:
            moved += await second.receive(20, 0.5)
        for msg in moved:
            await msg.ack()
        await first.close()
        await second.close()
    assert len(moved) == 10, [m.value for m in moved]
    [partition] = {m.partition for m in moved}
    assert [_seq(m) for m in moved] == list(range(10))
    assert all(m.delivery_count >= 2 for m in moved), "redelivery not marked"
    still_first = [m for m in held if m.partition != partition]
    assert len(still_first) == 10


async def test_a_leaving_member_hands_its_partitions_over_at_once(url: str) -> None:
    async with (
        anymq.connect(url, member_timeout=30) as broker,
        _topic(broker, 4) as topic,
        broker.producer() as producer,
    ):
        stay = broker.consumer(topic, "g")
        await stay.start()
        async with broker.consumer(topic, "g") as leave:
            await asyncio.sleep(0.5)
            for p in range(4):
                await producer.send(topic, b"p%d:0" % p, partition=p)
            got: list[Received] = []
            while len(got) < 4:
                got += await stay.receive(10, 0.2) + await leave.receive(10, 0.2)
            for msg in got:
                await msg.ack()
        left = time.monotonic()
        for p in range(4):
            await producer.send(topic, b"p%d:1" % p, partition=p)
        after: list[Received] = []
        while len(after) < 4 and time.monotonic() - left < 10:
            after += await stay.receive(10, 0.2)
        took = time.monotonic() - left
        await stay.close()
    assert sorted(m.partition or 0 for m in after) == [0, 1, 2, 3]
    assert took < 5, f"partitions moved after {took:.1f}s, not at once (member_timeout is 30s)"


CHILD = r"""
import asyncio, sys
import anymq

async def main(url, topic):
    async with anymq.connect(url) as broker:
        async with broker.consumer(topic, "g", prefetch=10) as consumer:
            print("ready", flush=True)
            async for msg in consumer:
                print("got", msg.value.decode(), flush=True)
                await asyncio.sleep(0.02)
                await msg.ack()
                print("ack", msg.value.decode(), flush=True)

asyncio.run(main(*sys.argv[1:3]))
"""


async def test_sigkilled_member_survivor_continues_every_key_in_order(url: str) -> None:
    keys, per_key = 8, 60
    sent = {b"%d:%d" % (k, s) for k in range(keys) for s in range(per_key)}
    survivor_log: list[Received] = []
    async with (
        anymq.connect(url) as broker,
        _topic(broker, 4) as topic,
        KilledMember(CHILD, url, topic) as child,
    ):
        await child.ready()
        survivor = broker.consumer(topic, "g", prefetch=10)
        await survivor.start()
        stop = asyncio.Event()

        async def drain() -> None:
            while not stop.is_set():
                for msg in await survivor.receive(10, 0.1):
                    survivor_log.append(msg)
                    await asyncio.sleep(0.002)
                    await msg.ack()

        draining = asyncio.create_task(drain())
        async with broker.producer() as producer:
            for seq in range(per_key):
                for k in range(keys):
                    await producer.send(topic, b"%d:%d" % (k, seq), key=b"k%d" % k)
                await asyncio.sleep(0.005)
        assert await child.reported("got", 30, timeout=30), "the child never got its share"
        killed = await child.kill()
        done = set(child.acked)

        def complete() -> bool:
            return sent <= done | {m.value for m in survivor_log}

        await _until(complete, 30, "the survivor to take over the killed member's keys")
        took = time.monotonic() - killed
        stop.set()
        await draining
        await survivor.close()
    held = set(child.got) - set(child.acked)
    print(f"child got {len(child.got)} acked {len(child.acked)} held {len(held)}; {took:.1f}s")
    seen: dict[bytes, list[int]] = defaultdict(list)
    for msg in survivor_log:
        seen[msg.key or b""].append(_seq(msg))
    for key, order in seen.items():
        assert order == sorted(order), f"{key!r} out of order at the survivor: {order}"
        assert len(order) == len(set(order)), f"{key!r} delivered twice to the survivor"
    by_value = {m.value: m for m in survivor_log}
    for value in held:
        assert value in by_value, f"{value!r} held by the killed member was lost"
        assert by_value[value].delivery_count >= 2, f"{value!r} redelivered unmarked"
    # Each key continues where the killed member stopped: no gap, nothing skipped; what
    # the survivor got again of the killed member's acked part is marked redelivered.
    for k in range(keys):
        key = b"k%d" % k
        acked = [int(v.split(b":")[1]) for v in child.acked if v.startswith(b"%d:" % k)]
        last = max(acked, default=-1)
        theirs = [s for s in seen.get(key, []) if s > last]
        assert theirs == list(range(last + 1, per_key)), f"{key!r}: gap after {last}: {theirs}"
        again = [m for m in survivor_log if m.key == key and _seq(m) <= last]
        assert all(m.delivery_count >= 2 for m in again), f"{key!r} redelivered unmarked"


async def test_too_many_partitions_is_refused_before_anything_is_declared(url: str) -> None:
    name = _name("many")
    async with anymq.connect(url) as broker:
        limit = broker.capabilities.max_partitions
        assert limit > 1
        with pytest.raises(anymq.ConfigError, match=f"limit of {limit}"):
            await broker.create_topic(name, partitions=limit + 1)
        assert name not in await broker.list_topics()
        with pytest.raises(anymq.TopicNotFound):
            await broker.describe_topic(name)


async def test_partition_out_of_range_is_refused_before_sending(url: str) -> None:
    async with (
        anymq.connect(url) as broker,
        _topic(broker, 3) as topic,
        broker.consumer(topic, "g") as consumer,
        broker.producer() as producer,
    ):
        with pytest.raises(anymq.ConfigError, match=r"partition 3 .*3 partitions"):
            await producer.send(topic, b"x", partition=3)
        receipt = await producer.send(topic, b"y", partition=2)
        got = await consumer.receive(10, 5.0)
        got += await consumer.receive(10, 0.5)
    assert receipt.partition == 2
    assert [(m.value, m.partition) for m in got] == [(b"y", 2)]


async def test_describe_and_delete_cover_every_partition_queue(url: str) -> None:
    group = "billing.eu"  # a dotted group name keeps its queues apart from other pairs
    async with anymq.connect(url) as broker:
        async with _topic(broker, 3) as topic:
            async with broker.consumer(topic, group):
                pass
            async with broker.producer() as producer:
                for k in range(9):
                    await producer.send(topic, b"%d:0" % k, key=b"k%d" % k)
            info = await broker.describe_topic(topic)
            queues = list(info.details["queues"])
            assert info.partitions == 3
            assert len(queues) == 3
            assert [await queue_exists(url, q) for q in queues] == [True] * 3
            deadline = time.monotonic() + 10
            while (lag := await broker.describe_group(topic, group)).backlog != 9:
                assert time.monotonic() < deadline, lag
                await asyncio.sleep(0.1)
            assert [p.partition for p in lag.partitions] == [0, 1, 2]
            assert sum(p.lag for p in lag.partitions) == 9
            await broker.delete_topic(topic)
        for queue in queues:
            assert not await queue_exists(url, queue), f"{queue} left behind"


async def test_consumer_without_group_gets_every_partition(url: str) -> None:
    async with (
        anymq.connect(url) as broker,
        _topic(broker, 4) as topic,
        broker.consumer(topic) as consumer,
        broker.producer() as producer,
    ):
        for k in range(12):
            await producer.send(topic, b"%d:0" % k, key=b"k%d" % k)
        got: list[Received] = []
        while len(got) < 12:
            more = await consumer.receive(12, 5.0)
            assert more
            got += more
    assert {m.key: m.partition for m in got} == {
        b"k%d" % k: key_partition(b"k%d" % k, 4) for k in range(12)
    }


async def test_dead_letters_and_delivery_counts_per_partition_queue(url: str) -> None:
    async with anymq.connect(url) as broker, _topic(broker, 3) as topic:
        dlt = f"{topic}.DLT"
        try:
            async with (
                broker.consumer(topic, "g", max_deliveries=2) as consumer,
                broker.consumer(dlt, "dead") as dead,
                broker.producer() as producer,
            ):
                await producer.send(topic, b"poison", partition=2)
                counts = []
                for _ in range(2):
                    [msg] = await consumer.receive(1, 10.0)
                    counts.append((msg.partition, msg.delivery_count))
                    await msg.nack()
                [letter] = await dead.receive(1, 10.0)
                await letter.ack()
        finally:
            with contextlib.suppress(anymq.TopicNotFound):
                await broker.delete_topic(dlt)
    assert counts == [(2, 1), (2, 2)]
    assert letter.value == b"poison"


async def test_stream_new_group_reads_the_history_of_every_partition(rabbitmq_url: str) -> None:
    url = with_query(rabbitmq_url, mode="stream")
    async with anymq.connect(url) as broker, _topic(broker, 3) as topic:
        async with broker.producer() as producer:
            receipts = [
                await producer.send(topic, b"%d:%d" % (k, s), key=b"k%d" % k)
                for s in range(4)
                for k in range(6)
            ]
        async with broker.consumer(topic, "late", start="earliest") as consumer:
            got: list[Received] = []
            while len(got) < 24:
                more = await consumer.receive(24, 5.0)
                assert more, f"history incomplete: {len(got)} of 24"
                got += more
            for msg in got:
                await msg.ack()
    by_value = {r.message_id: r for r in receipts}
    assert len(by_value) == 24
    assert {(m.value, m.partition, m.offset) for m in got} == {
        (b"%d:%d" % (k, s), key_partition(b"k%d" % k, 3), r.offset)
        for (k, s), r in zip(((k, s) for s in range(4) for k in range(6)), receipts, strict=True)
    }
    seen: dict[bytes, list[int]] = defaultdict(list)
    for msg in got:
        seen[msg.key or b""].append(_seq(msg))
    assert all(order == [0, 1, 2, 3] for order in seen.values()), seen


async def test_stream_seek_moves_one_partition_or_all(rabbitmq_url: str) -> None:
    url = with_query(rabbitmq_url, mode="stream")
    async with (
        anymq.connect(url) as broker,
        _topic(broker, 3) as topic,
        broker.consumer(topic, "g") as consumer,
    ):
        async with broker.producer() as producer:
            for p in range(3):
                for s in range(4):
                    await producer.send(topic, b"p%d:%d" % (p, s), partition=p)

        async def take(count: int) -> list[Received]:
            got: list[Received] = []
            while len(got) < count:
                more = await consumer.receive(count, 5.0)
                assert more, f"got {len(got)} of {count}: {[m.value for m in got]}"
                got += more
            got += await consumer.receive(20, 0.5)
            for msg in got:
                await msg.ack()
            return got

        first = await take(12)
        target = next(m for m in first if m.value == b"p1:2")
        assert target.offset is not None
        await consumer.seek(anymq.Position.at_offset(target.offset, partition=1))
        one = await take(2)
        await consumer.seek(anymq.Position.earliest())
        every = await take(12)
    assert sorted(m.value for m in one) == [b"p1:2", b"p1:3"]
    assert sorted(m.value for m in every) == sorted(m.value for m in first)


async def test_stream_copies_repeated_after_a_pump_crash_are_not_handed_out_again(
    rabbitmq_url: str,
) -> None:
    """A pump killed between copying a batch and storing its offset makes the next pump
    copy the batch again, behind what is left of the first copies: the work queue then
    holds offsets 3 4 5 | 0 1 2 3 4 5 | 6. Handing all out would break each key's order;
    the member skips the repeats (fresh copies at or before the newest it handed out)."""
    url = with_query(rabbitmq_url, mode="stream")
    async with anymq.connect(url) as broker, _topic(broker, 2) as topic:
        async with broker.consumer(topic, "g"):
            pass  # declares the group's work queues; the streams stay empty
        work = Names.partition_queue(Names.group_queue(topic, "g"), 0)
        target = anymq.URL.parse(rabbitmq_url)
        connection = await aiormq.connect(
            f"amqp://guest:guest@{target.host}:{target.port or 5672}/"
        )
        try:
            channel = await connection.channel()
            for offset in (3, 4, 5, 0, 1, 2, 3, 4, 5, 6):
                await channel.basic_publish(
                    b"m%d" % offset,
                    routing_key=work,
                    properties=aiormq.spec.Basic.Properties(
                        headers={"x-anymq-offset": offset}, delivery_mode=2
                    ),
                )
        finally:
            await connection.close()
        async with broker.consumer(topic, "g") as consumer:
            got: list[Received] = []
            while True:
                more = await consumer.receive(20, 2.0)
                if not more:
                    break
                got += more
            for msg in got:
                await msg.ack()
    assert [(m.value, m.offset, m.partition) for m in got] == [
        (b"m%d" % o, o, 0) for o in (3, 4, 5, 6)
    ]
