"""Contract: the nack decision, redelivery and the closed check mean the same everywhere.

These pin down places where backends used to decide differently for the same call: a
delay nobody can honour, a message whose consumers keep dying past ``max_deliveries``,
the order nacked messages come back in, and an ack that races its consumer's close.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest

import anymq
from anymq.features import Feature
from anymq.testing.context import TestContext
from anymq.testing.decorators import requires


class RedeliveryContract:
    """One nack policy and one closed check for every backend."""

    @requires(Feature.NACK_DELAY)
    async def test_nack_delay_over_the_limit_settles_nothing(self, ctx: TestContext) -> None:
        limit = ctx.capabilities.max_nack_delay
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            async with broker.consumer(topic, ctx.group()) as consumer:
                async with broker.producer() as producer:
                    await producer.send(topic, b"too-late")
                msg = await ctx.receive_one(consumer, "b'too-late'", ack=False)
                with pytest.raises(anymq.ConfigError) as info:
                    await msg.nack(delay=limit + 1)
                assert "delay" in str(info.value), info.value
                assert f"{limit:g}" in str(info.value), info.value
                assert not msg.settled, "a refused nack(delay=...) settled the message"
                await msg.nack()  # a retry is not a silent no-op: the message comes back
                again = await ctx.receive_one(consumer, "b'too-late' again after a plain nack")
        assert again.value == b"too-late"
        assert again.delivery_count == 2, f"delivery_count {again.delivery_count}"

    @requires(Feature.DEAD_LETTER)
    async def test_unsettled_past_max_deliveries_is_dead_lettered(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            group = ctx.group()
            dlt = broker.consumer(topic, group, max_deliveries=2).dead_letter_topic
            assert dlt is not None
            ctx._topics.append(dlt)
            async with contextlib.AsyncExitStack() as stack:
                for attempt in (1, 2):  # a consumer that dies before settling, twice
                    async with broker.consumer(topic, group, max_deliveries=2) as consumer:
                        if attempt == 1:  # the first consumer made the dead-letter topic
                            dead = await stack.enter_async_context(
                                broker.consumer(dlt, ctx.group("dlq"))
                            )
                            async with broker.producer() as producer:
                                await producer.send(topic, b"poison")
                        msg = await ctx.receive_one(consumer, "b'poison'", ack=False)
                        assert msg.delivery_count == attempt, f"delivery {msg.delivery_count}"
                async with broker.consumer(topic, group, max_deliveries=2) as consumer:
                    late = await ctx.quiet_receive(consumer)
                    assert [(m.value, m.delivery_count) for m in late] == [], (
                        "a message delivered max_deliveries times came a third time"
                    )
                letter = await ctx.receive_one(
                    dead, "the dead letter", who="the dead-letter topic's group"
                )
        assert letter.value == b"poison"

    @requires(Feature.KEY_ORDERING)
    async def test_nacked_messages_come_back_in_key_order(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:
            # partitioned where partitions exist: on sqs:// only those promise key order
            topic = await ctx.topic(broker, partitions=ctx.partitions(2))
            async with broker.consumer(topic, ctx.group()) as consumer:
                async with broker.producer() as producer:
                    for value in (b"first", b"second"):
                        await producer.send(topic, value, key=b"k")
                got = await ctx.collect(consumer, 2, ack=False)
                assert [m.value for m in got] == [b"first", b"second"]
                for msg in got:
                    await msg.nack()
                again = await ctx.collect(consumer, 2)
        assert [m.value for m in again] == [b"first", b"second"], "redelivery broke key order"

    async def test_ack_while_closing_is_refused(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            group = ctx.group()
            consumer = broker.consumer(topic, group)
            async with consumer:
                async with broker.producer() as producer:
                    await producer.send(topic, b"in-hand")
                msg = await ctx.receive_one(consumer, "b'in-hand'", ack=False)
                closing = asyncio.create_task(consumer.close())
                await asyncio.sleep(0)  # close has begun (and may be waiting on the broker)
                with pytest.raises(anymq.ClosedError) as info:
                    await msg.ack()
                assert not msg.settled, "an ack refused while closing settled the message"
                await closing
            assert "closed" in str(info.value)
            async with broker.consumer(topic, group) as again:
                back = await ctx.receive_one(
                    again, "b'in-hand' again (its ack was refused)", who=f"group {group!r}"
                )
        assert back.value == b"in-hand"
