"""Memory-backend specifics beyond the contract: spaces, rebalance, retention, dead letters."""

from __future__ import annotations

import asyncio

import pytest

import anymq
from anymq.deadletter import original_topic
from anymq_memory import log

pytestmark = pytest.mark.anymq


async def test_named_spaces_are_separate_and_shared_by_name() -> None:
    async with anymq.connect("memory://space-a") as a, anymq.connect("memory://space-b") as b:
        await a.create_topic("t")
        assert await b.list_topics() == []
        async with anymq.connect("memory://space-a") as a2:
            assert await a2.list_topics() == ["t"]
    log.reset("space-a")
    async with anymq.connect("memory://space-a") as a:
        assert await a.list_topics() == []


async def test_rebalance_moves_partitions_and_keeps_in_flight_with_owner() -> None:
    async with anymq.connect("memory://rebalance") as broker:
        await broker.create_topic("t", partitions=4)
        async with broker.consumer("t", "g") as first, broker.producer() as producer:
            for i in range(8):
                await producer.send("t", b"%d" % i, partition=i % 4)
            held = await first.receive(100, 0)
            assert len(held) == 8
            async with broker.consumer("t", "g") as second:
                # the second member got partitions, but messages in process stay invisible
                assert await second.receive(100, 0.05) == []
                info = await broker.describe_group("t", "g")
                assert info.members == 2
                assert info.in_flight == 8
                for msg in held:
                    if msg.partition in (1, 3):
                        await msg.nack()
                back = await second.receive(100, 0.05) + await first.receive(100, 0.05)
                assert sorted(m.value for m in back) == [b"1", b"3", b"5", b"7"]


async def test_moved_partition_waits_for_its_previous_owner_then_wakes_the_new_one() -> None:
    """Per-key order across a join: the new owner reads a moved partition only once the old
    owner settled what it holds there, and that settle wakes a receive without timeout."""
    async with anymq.connect("memory://handover") as broker:
        await broker.create_topic("t", partitions=2)
        async with broker.consumer("t", "g") as first, broker.producer() as producer:
            await producer.send("t", b"a0", partition=1)
            [held] = await first.receive(10, 0)
            async with broker.consumer("t", "g") as second:  # takes partition 1
                await producer.send("t", b"a1", partition=1)
                waiting = asyncio.ensure_future(second.receive(10, None))
                await asyncio.sleep(0.05)
                assert not waiting.done(), "the new owner read past a message still in process"
                await held.ack()
                got = await asyncio.wait_for(waiting, 2)
                assert [m.value for m in got] == [b"a1"]


async def test_retention_by_count_trims_oldest_and_moves_log_start() -> None:
    async with anymq.connect("memory://count") as broker:
        await broker.create_topic("t", retention=anymq.Retention(messages=3))
        async with broker.producer() as producer:
            for i in range(10):
                await producer.send("t", b"%d" % i)
        info = await broker.describe_topic("t")
        assert info.details["offsets"] == [(7, 10)]
        async with broker.consumer("t", "g", start="earliest") as consumer:
            got = await consumer.receive(100, 0)
        assert [m.offset for m in got] == [7, 8, 9]


async def test_dead_letters_carry_spring_kafka_headers() -> None:
    async with anymq.connect("memory://dlt") as broker:
        await broker.create_topic("orders", partitions=2)
        consumer = broker.consumer("orders", "billing", max_deliveries=1)
        assert consumer.dead_letter_topic == "orders.DLT"
        async with consumer, broker.producer() as producer:
            receipt = await producer.send("orders", b"bad", partition=1, headers={"a": "b"})
            [msg] = await consumer.receive(1, 1)
            await msg.nack()
        async with broker.consumer("orders.DLT", "ops", start="earliest") as dead:
            [letter] = await dead.receive(1, 1)
        h = letter.headers
        assert original_topic(h) == "orders"
        assert h["a"] == b"b"
        assert int.from_bytes(h["kafka_dlt-original-partition"], "big") == 1
        assert int.from_bytes(h["kafka_dlt-original-offset"], "big") == receipt.offset
        assert len(h["kafka_dlt-original-timestamp"]) == 8
        assert h["kafka_dlt-original-consumer-group"] == b"billing"


async def test_a_dead_letter_that_cannot_be_published_settles_nothing() -> None:
    """The dead-letter topic was deleted: the nack fails loudly and the message stays in
    flight (it used to be acked without a dead letter, i.e. silently lost)."""
    async with anymq.connect("memory://dlt-gone") as broker:
        await broker.create_topic("t")
        async with broker.consumer("t", "g", max_deliveries=3) as consumer:
            async with broker.producer() as producer:
                await producer.send("t", b"poison")
            [msg] = await consumer.receive(1, 1)
            await broker.delete_topic("t.DLT")
            with pytest.raises(anymq.TopicNotFound, match=r"t\.DLT"):
                await msg.nack(requeue=False)
            assert not msg.settled, "a failed dead letter settled the message"
            await broker.create_topic("t.DLT")
            await msg.nack(requeue=False)  # the retry does what the first nack could not
            assert msg.settled
        async with broker.consumer("t.DLT", "ops", start="earliest") as dead:
            [letter] = await dead.receive(1, 1)
        assert letter.value == b"poison"
        assert letter.headers["kafka_dlt-exception-message"] == b"rejected without requeue"


async def test_nack_with_delay_is_returned_on_close() -> None:
    async with anymq.connect("memory://delay") as broker:
        await broker.create_topic("t")
        async with broker.producer() as producer:
            await producer.send("t", b"x")
        async with broker.consumer("t", "g", start="earliest") as consumer:
            [msg] = await consumer.receive(1, 1)
            await msg.nack(delay=3600)
        async with broker.consumer("t", "g") as consumer:
            [again] = await consumer.receive(1, 1)
        assert again.value == b"x"
        assert again.delivery_count == 2


async def test_seek_one_partition_only() -> None:
    async with anymq.connect("memory://seek") as broker:
        await broker.create_topic("t", partitions=2)
        async with broker.consumer("t", "g") as consumer, broker.producer() as producer:
            for i in range(4):
                await producer.send("t", b"%d" % i, partition=i % 2)
            for msg in await consumer.receive(10, 0):
                await msg.ack()
            await consumer.seek(anymq.Position.at_offset(0, partition=1))
            replay = await consumer.receive(10, 0)
        assert sorted(m.value for m in replay) == [b"1", b"3"]


async def test_partition_out_of_range_is_refused() -> None:
    async with anymq.connect("memory://range") as broker:
        await broker.create_topic("t", partitions=2)
        async with broker.producer() as producer:
            with pytest.raises(anymq.ConfigError, match="has 2 partition"):
                await producer.send("t", b"x", partition=2)
            with pytest.raises(anymq.ConfigError, match="nothing was sent"):
                await producer.send_batch(
                    "t", [anymq.Message(b"a"), anymq.Message(b"b", partition=5)]
                )
        info = await broker.describe_topic("t")
        assert info.details["messages"] == 0
