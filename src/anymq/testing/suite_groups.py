"""Contract: how groups share, fan out, broadcast, survive downtime and fail over."""

from __future__ import annotations

import asyncio

from anymq.client import Consumer
from anymq.features import Feature
from anymq.testing.context import TestContext
from anymq.testing.decorators import requires
from anymq.testing.ledger import Ledger, assert_count


class GroupContract:
    """Competing consumers, fan-out, broadcast, durability, failover, invisibility."""

    @requires(Feature.CONSUMER_GROUPS)
    async def test_group_members_share_without_duplicates(self, ctx: TestContext) -> None:
        ledger = Ledger()
        count = 60
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker, partitions=ctx.partitions(4))
            group = ctx.group()
            async with (
                broker.consumer(topic, group, prefetch=5) as c1,
                broker.consumer(topic, group, prefetch=5) as c2,
            ):
                ledger.who = f"group {group!r}"
                ledger.ordered = True
                async with broker.producer() as producer:
                    for i in range(count):
                        key = b"k%d" % i
                        await producer.send(topic, ledger.expect(b"m%d" % i, key), key=key)
                per_member: list[list[bytes]] = [[], []]

                async def drain(index: int, consumer: Consumer) -> None:
                    while not ledger.complete():
                        batch = await consumer.receive(max_messages=5, timeout=0.2)
                        for msg in batch:
                            per_member[index].append(msg.value)
                            ledger.record(msg.value)
                            await msg.ack()
                            await asyncio.sleep(0)

                await ctx.until_delivered(
                    drain(0, c1),
                    drain(1, c2),
                    arrived=lambda: len(ledger.received),
                    missing=ledger.describe,
                    proven=lambda: ctx.proven_lost(ledger),
                )
                for msg in await ctx.quiet_receive(c1) + await ctx.quiet_receive(c2):
                    ledger.record(msg.value)
        ctx.observe("share.split", [len(per_member[0]), len(per_member[1])])
        ctx.observe("share.duplicates", ledger.duplicates)
        ledger.assert_complete(exactly_once=ctx.has(Feature.EXACTLY_ONCE))
        split = [len(p) for p in per_member]
        assert per_member[0], f"work was not shared: split {split}"
        assert per_member[1], f"work was not shared: split {split}"

    @requires(Feature.FAN_OUT)
    async def test_every_group_gets_every_message(self, ctx: TestContext) -> None:
        count = 20
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker, partitions=ctx.partitions(2))
            groups = [ctx.group(f"g{i}") for i in range(3)]
            consumers = [broker.consumer(topic, g) for g in groups]
            for consumer in consumers:
                await consumer.start()
            ledgers = [Ledger(f"group {g!r}", ordered=True) for g in groups]
            async with broker.producer() as producer:
                for i in range(count):
                    key = b"k%d" % i
                    for ledger in ledgers:
                        ledger.expect(b"m%d" % i, key)
                    await producer.send(topic, b"m%d" % i, key=key)
            for ledger, consumer in zip(ledgers, consumers, strict=True):
                await ctx.receive_all(consumer, ledger)
                await consumer.close()
                ledger.assert_complete(exactly_once=ctx.has(Feature.EXACTLY_ONCE))

    @requires(Feature.BROADCAST)
    async def test_consumers_without_group_each_get_everything(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker, partitions=ctx.partitions(2))
            ledgers = [Ledger(f"consumer {n} without group", ordered=True) for n in (1, 2)]
            late = Ledger("a consumer without group started later", ordered=True)
            async with broker.producer() as producer:
                await producer.send(topic, b"before")  # nobody listens: nobody gets it
                async with broker.consumer(topic) as c1, broker.consumer(topic) as c2:
                    for i in range(10):
                        for ledger in ledgers:
                            ledger.expect(b"m%d" % i)
                        await producer.send(topic, b"m%d" % i)
                    await ctx.receive_all(c1, ledgers[0])
                    await ctx.receive_all(c2, ledgers[1])
                await producer.send(topic, b"while-away")
                async with broker.consumer(topic) as c3:
                    await producer.send(topic, late.expect(b"after"))
                    await ctx.receive_all(c3, late)
        for ledger in ledgers:
            ledger.assert_complete(exactly_once=True)
        late.assert_complete(exactly_once=True)  # "before" or "while-away" is unexpected

    @requires(Feature.DURABLE_GROUPS)
    async def test_durable_group_gets_what_was_sent_while_down(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker, partitions=ctx.partitions(2))
            group = ctx.group()
            async with broker.consumer(topic, group):
                pass  # the group exists from here on, even with no member
            ledger = Ledger(f"group {group!r} (no member while they were sent)", ordered=True)
            async with broker.producer() as producer:
                for i in range(10):
                    key = b"k%d" % i
                    await producer.send(topic, ledger.expect(b"m%d" % i, key), key=key)
            async with broker.consumer(topic, group) as consumer:
                await ctx.receive_all(consumer, ledger)
        ledger.assert_complete(exactly_once=True)

    @requires(Feature.CONSUMER_GROUPS)
    async def test_failover_hands_unacked_messages_to_others(self, ctx: TestContext) -> None:
        count = 40
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker, partitions=ctx.partitions(4))
            group = ctx.group()
            ledger = Ledger(f"group {group!r} (one member left with messages unacked)")
            survivor = broker.consumer(topic, group, prefetch=10)
            leaving = broker.consumer(topic, group, prefetch=10)
            await survivor.start()
            await leaving.start()
            async with broker.producer() as producer:
                for i in range(count):
                    await producer.send(topic, ledger.expect(b"m%d" % i), key=b"k%d" % i)
            # The leaving member takes what it can, acks half and stops mid-stream.
            held = await leaving.receive(max_messages=10, timeout=ctx.quiet * 3)
            for msg in held[: len(held) // 2]:
                ledger.record(msg.value)
                await msg.ack()
            unacked = {m.value for m in held[len(held) // 2 :]}
            await leaving.close()
            loop = asyncio.get_running_loop()
            started = loop.time()
            got = await ctx.receive_all(survivor, ledger)
            ctx.observe("failover.handover_seconds", round(loop.time() - started, 3))
            await survivor.close()
        ctx.observe("failover.duplicates", ledger.duplicates)
        handed = unacked - {m.value for m in got}
        assert not handed, (
            f"the leaving member's unacked messages were expected at the survivor; "
            f"{ledger.names(handed)} never came ({ledger.describe()})"
        )
        ledger.assert_complete(exactly_once=ctx.has(Feature.EXACTLY_ONCE))

    @requires(Feature.CONSUMER_GROUPS)
    async def test_message_in_process_is_invisible_to_others(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker, partitions=ctx.partitions(2))
            group = ctx.group()
            async with broker.consumer(topic, group) as c1, broker.consumer(topic, group) as c2:
                async with broker.producer() as producer:
                    await producer.send(topic, b"only-once", key=b"k")
                first = await ctx.collect(c1, 1, ack=False, timeout=ctx.quiet * 2)
                holder, other = (c1, c2) if first else (c2, c1)
                if not first:
                    first = await ctx.collect(c2, 1, ack=False)
                assert_count(f"group {group!r}", 1, first)
                seen_by_other = await ctx.quiet_receive(other, ack=False)
                assert seen_by_other == [], (
                    f"no other member was expected to see b'only-once' while one held it "
                    f"unacked; another got {[m.body for m in seen_by_other]}"
                )
                await first[0].ack()
                for who, member in (("the other member", other), ("the holder", holder)):
                    again = await ctx.quiet_receive(member)
                    assert again == [], (
                        f"nothing was expected after the ack; {who} got {[m.body for m in again]}"
                    )
