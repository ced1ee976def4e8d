"""Contract: event brokers keep what was consumed and replay it; retention removes the old."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import anymq
from anymq.features import Feature
from anymq.message import Received
from anymq.testing.context import TestContext
from anymq.testing.decorators import requires
from anymq.testing.ledger import Ledger


def _in_order(when: str, expected: list[bytes], got: list[Received]) -> None:
    """``got`` is exactly ``expected``, in that order."""
    values = [m.value for m in got]
    assert values == expected, f"{when}, the consumer was expected to get {expected}; got {values}"


class LogContract:
    """History, replay, seek by offset and time, retention by time, size and count."""

    @requires(Feature.RETAINS_CONSUMED)
    async def test_consumed_messages_are_kept_for_new_groups(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker, partitions=ctx.partitions(2))
            sent = Ledger(f"group {ctx.group('first')!r}", ordered=True)
            kept = Ledger(f"group {ctx.group('late')!r} (new, start='earliest')", ordered=True)
            async with broker.consumer(topic, ctx.group("first")) as first:
                async with broker.producer() as producer:
                    for i in range(6):
                        key = b"k%d" % i
                        kept.expect(b"m%d" % i, key)
                        await producer.send(topic, sent.expect(b"m%d" % i, key), key=key)
                await ctx.receive_all(first, sent)
                sent.assert_complete()
            async with broker.consumer(topic, ctx.group("late"), start="earliest") as late:
                await ctx.receive_all(late, kept)
        kept.assert_complete(exactly_once=True)

    @requires(Feature.REPLAY)
    async def test_seek_by_offset_and_earliest(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            async with broker.consumer(topic, ctx.group()) as consumer:
                ledger = Ledger(f"group {ctx.group()!r}", ordered=True)
                async with broker.producer() as producer:
                    receipts = [
                        await producer.send(topic, ledger.expect(b"m%d" % i)) for i in range(10)
                    ]
                first = await ctx.collect(consumer, 10, ledger=ledger)
                ledger.assert_complete()
                _in_order("the first reading", [b"m%d" % i for i in range(10)], first)
                offsets = [r.offset for r in receipts]
                assert offsets == [m.offset for m in first], (
                    f"the offsets delivered were expected to be the receipts' {offsets}; "
                    f"got {[m.offset for m in first]}"
                )
                target = offsets[3]
                assert target is not None
                await consumer.seek(anymq.Position.at_offset(target, partition=0))
                replay = await ctx.collect(consumer, 7) + await ctx.quiet_receive(consumer)
                _in_order(
                    f"after seek to offset {target}", [b"m%d" % i for i in range(3, 10)], replay
                )
                await consumer.seek(anymq.Position.earliest())
                again = await ctx.collect(consumer, 10)
                _in_order("after seek to earliest", [b"m%d" % i for i in range(10)], again)
                await consumer.seek(anymq.Position.latest())
                after = await ctx.quiet_receive(consumer)
                _in_order("after seek to latest", [], after)

    @requires(Feature.SEEK_TIME)
    async def test_seek_by_time(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            async with broker.consumer(topic, ctx.group()) as consumer:
                before = Ledger(f"group {ctx.group()!r} (before the pause)", ordered=True)
                after = Ledger(f"group {ctx.group()!r} (after the pause)", ordered=True)
                async with broker.producer() as producer:
                    for i in range(5):
                        await producer.send(topic, before.expect(b"old%d" % i))
                    old = await ctx.collect(consumer, 5, ledger=before)
                    before.assert_complete()
                    await asyncio.sleep(0.05)  # clocks have millisecond resolution
                    for i in range(5):
                        await producer.send(topic, after.expect(b"new%d" % i))
                new = await ctx.collect(consumer, 5, ledger=after)
                after.assert_complete()
                when = new[0].timestamp
                assert when is not None
                assert old[-1].timestamp is not None
                assert old[-1].timestamp < when
                await consumer.seek(anymq.Position.at_time(when))
                replay = await ctx.collect(consumer, 5) + await ctx.quiet_receive(consumer)
        _in_order(
            "after seek to the first new message's time", [b"new%d" % i for i in range(5)], replay
        )

    @requires(Feature.RETENTION_TIME)
    async def test_retention_by_time(self, ctx: TestContext) -> None:
        keep = timedelta(seconds=ctx.settings["retention_seconds"])
        await _retention_case(ctx, anymq.Retention(time=keep), old=5, size=10)

    @requires(Feature.RETENTION_BYTES)
    async def test_retention_by_size(self, ctx: TestContext) -> None:
        limit = ctx.settings["retention_bytes"]
        await _retention_case(
            ctx, anymq.Retention(bytes=limit), old=max(8, 4 * limit // 1000), size=1000
        )

    @requires(Feature.RETENTION_MESSAGES)
    async def test_retention_by_count(self, ctx: TestContext) -> None:
        await _retention_case(ctx, anymq.Retention(messages=3), old=10, size=10)


async def _retention_case(
    ctx: TestContext, retention: anymq.Retention, *, old: int, size: int
) -> None:
    """Old messages go once retention says so; the newest stay readable by a durable group."""
    async with ctx.broker() as broker:
        topic = await ctx.topic(broker, retention=retention)
        info = await broker.describe_topic(topic)
        assert info.retention == retention or not info.retention.is_default
        group = ctx.group()
        async with broker.consumer(topic, group):
            pass
        pad = b"." * max(0, size - 8)
        async with broker.producer() as producer:
            for i in range(old):
                await producer.send(topic, b"old%04d" % i + pad)

            async def trimmed() -> bool:
                if retention.time is not None:
                    return (await broker.describe_group(topic, group)).backlog == 0
                # size and count: keep sending so the broker has newer data to keep
                await producer.send(topic, b"filler" + pad)
                return (await broker.describe_group(topic, group)).backlog < old

            took = await ctx.eventually(
                trimmed,
                f"retention {retention} removed old messages",
                timeout=ctx.settings["retention_timeout"],
            )
            await producer.send(topic, b"newest")
        ctx.observe("retention.seconds_until_trimmed", round(took, 3))
        async with broker.consumer(topic, group) as consumer:
            got = await ctx.quiet_receive(consumer)
            if not got or got[-1].value != b"newest":
                got += await ctx.collect(consumer, 1)
    values = [m.value for m in got]
    assert values, "the newest message was not kept"
    assert values[-1] == b"newest", "the newest message was not kept"
    assert b"old0000" + pad not in values, "the oldest message survived retention"
