"""Contract: at-least-once delivery: nack, close without ack, dead letters, delays."""

from __future__ import annotations

import asyncio

import anymq
from anymq.features import Feature
from anymq.testing.context import TestContext
from anymq.testing.decorators import requires
from anymq.testing.ledger import Ledger, assert_count


class DeliveryContract:
    """Redelivery after nack and after close, delivery counts, dead letters, delays."""

    async def test_nack_redelivers_with_count(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            async with broker.consumer(topic, ctx.group()) as consumer:
                async with broker.producer() as producer:
                    await producer.send(topic, b"retry-me", key=b"k", headers={"h": "v"})
                first = await ctx.receive_one(consumer, "b'retry-me'", ack=False)
                assert first.delivery_count == 1
                await first.nack()
                again = await ctx.receive_one(
                    consumer, "b'retry-me' again after its nack", ack=False
                )
                assert again.value == b"retry-me"
                assert again.key == b"k"
                assert again.headers == {"h": b"v"}
                assert again.delivery_count == 2, f"delivery_count {again.delivery_count}"
                await again.ack()
                assert await ctx.quiet_receive(consumer) == [], "acked message came back"

    async def test_close_without_ack_redelivers(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            group = ctx.group()
            async with broker.consumer(topic, group) as consumer:
                async with broker.producer() as producer:
                    await producer.send(topic, b"unfinished")
                    await producer.send(topic, b"finished")
                got = await ctx.collect(consumer, 2, ack=False)
                assert_count(f"group {group!r}", 2, got)
                await next(m for m in got if m.value == b"finished").ack()
            async with broker.consumer(topic, group) as consumer:
                again = await ctx.collect(consumer, 1)
                rest = await ctx.quiet_receive(consumer)
        assert [m.value for m in again] == [b"unfinished"], (
            f"the unacked b'unfinished' was expected again after the close; got "
            f"{[m.value for m in again]}"
        )
        assert rest == [], f"the acked message was delivered again: {[m.value for m in rest]}"
        ctx.observe("close_without_ack.delivery_count", again[0].delivery_count)
        assert again[0].delivery_count >= 1

    async def test_acked_messages_are_gone_for_the_group(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker, partitions=ctx.partitions(2))
            group = ctx.group()
            async with broker.consumer(topic, group) as consumer:
                ledger = Ledger(f"group {group!r}", ordered=True)
                async with broker.producer() as producer:
                    for i in range(5):
                        key = b"k%d" % i
                        await producer.send(topic, ledger.expect(b"m%d" % i, key), key=key)
                await ctx.collect(consumer, 5, ledger=ledger)
                ledger.assert_complete()
            await ctx.eventually(
                lambda: _backlog_is(broker, topic, group, 0), "the group's backlog is 0"
            )
            async with broker.consumer(topic, group) as consumer:
                back = await ctx.quiet_receive(consumer)
                assert back == [], (
                    f"acked messages came back to the group: {[m.value for m in back]}"
                )

    async def test_backlog_counts_waiting_messages(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            group = ctx.group()
            async with broker.consumer(topic, group):
                pass
            async with broker.producer() as producer:
                for i in range(7):
                    await producer.send(topic, b"m%d" % i)
            backlog: list[int] = []

            async def seven() -> bool:
                backlog.append((await broker.describe_group(topic, group)).backlog)
                return backlog[-1] == 7

            await ctx.eventually(
                seven,
                f"describe_group shows group {group!r} a backlog of the 7 messages sent",
                seen=lambda: backlog[-1] if backlog else None,
            )
            info = await broker.describe_group(topic, group)
            assert info.topic == topic
            assert info.group == group

    @requires(Feature.DEAD_LETTER)
    async def test_dead_letter_after_max_deliveries(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            group = ctx.group()
            consumer = broker.consumer(topic, group, max_deliveries=2)
            dlt = consumer.dead_letter_topic
            assert dlt, "a consumer with max_deliveries names its dead-letter topic"
            ctx._topics.append(dlt)
            async with consumer, broker.consumer(dlt, ctx.group("dlq")) as dead:
                async with broker.producer() as producer:
                    await producer.send(topic, b"poison", key=b"pk", headers={"h": "v"})
                    await producer.send(topic, b"fine")
                counts = []
                while True:
                    got = await ctx.collect(consumer, 1, ack=False)
                    assert got, "message not redelivered before reaching the limit"
                    msg = got[0]
                    if msg.value == b"fine":
                        await msg.ack()
                        continue
                    counts.append(msg.delivery_count)
                    await msg.nack()
                    if msg.delivery_count >= 2:
                        break
                letter = await ctx.receive_one(
                    dead, "the dead letter", who="the dead-letter topic's group"
                )
                rest = [m.value for m in await ctx.quiet_receive(consumer)]
                assert b"poison" not in rest, "poison came back after the dead letter"
        assert counts == [1, 2], f"delivery counts {counts}"
        assert letter.value == b"poison"
        assert letter.key == b"pk"
        assert letter.headers.get("h") == b"v", "dead letter lost its headers"
        ctx.observe("dead_letter.headers", sorted(letter.headers))

    @requires(Feature.NACK_DELAY)
    async def test_nack_with_delay(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            async with broker.consumer(topic, ctx.group()) as consumer:
                async with broker.producer() as producer:
                    await producer.send(topic, b"later")
                msg = await ctx.receive_one(consumer, "b'later'", ack=False)
                loop = asyncio.get_running_loop()
                nacked = loop.time()
                await msg.nack(delay=1.0)
                again = await ctx.receive_one(consumer, "b'later' again after nack(delay=1.0)")
                waited = loop.time() - nacked
        ctx.observe("nack_delay.seconds", round(waited, 3))
        assert again.value == b"later"
        assert waited >= 0.9, f"redelivered after {waited:.2f}s, before the 1s delay"

    @requires(Feature.DELAYED_DELIVERY)
    async def test_delayed_delivery(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            async with broker.consumer(topic, ctx.group()) as consumer:
                loop = asyncio.get_running_loop()
                async with broker.producer() as producer:
                    sent = loop.time()
                    await producer.send(topic, b"delayed", delay=2)
                msg = await ctx.receive_one(consumer, "b'delayed' (sent with delay=2)")
                waited = loop.time() - sent
        assert msg.value == b"delayed"
        assert waited >= 1.8, f"delivered after {waited:.2f}s, before the 2s delay"

    @requires(Feature.ROUTING_KEYS)
    async def test_binding_pattern_selects_routing_keys(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            async with broker.consumer(topic, ctx.group(), binding="order.*.created") as consumer:
                async with broker.producer() as producer:
                    await producer.send(topic, b"yes", routing_key="order.eu.created")
                    await producer.send(topic, b"no", routing_key="order.eu.deleted")
                    await producer.send(topic, b"also", routing_key="order.us.created")
                ledger = Ledger("the consumer bound to 'order.*.created'")
                ledger.expect(b"yes")
                ledger.expect(b"also")
                await ctx.receive_all(consumer, ledger)
        ledger.assert_complete(exactly_once=True)  # b"no" is unexpected


async def _backlog_is(broker: anymq.Broker, topic: str, group: str, expected: int) -> bool:
    return (await broker.describe_group(topic, group)).backlog == expected
