"""Contract: how groups share, fan out, broadcast, survive downtime and fail over."""

from __future__ import annotations

import asyncio

from anymq.features import Feature
from anymq.testing.context import TestContext
from anymq.testing.decorators import requires
from anymq.testing.ledger import Ledger


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
                async with broker.producer() as producer:
                    for i in range(count):
                        await producer.send(topic, ledger.expect(b"m%d" % i), key=b"k%d" % i)
                per_member: list[list[bytes]] = [[], []]

                async def drain(index: int, consumer: object) -> None:
                    while len(ledger.received) < count:
                        batch = await consumer.receive(max_messages=5, timeout=0.2)  # type: ignore[attr-defined]
                        for msg in batch:
                            per_member[index].append(msg.value)
                            ledger.record(msg.value)
                            await msg.ack()
                            await asyncio.sleep(0)

                await asyncio.wait_for(asyncio.gather(drain(0, c1), drain(1, c2)), ctx.timeout)
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
            async with broker.producer() as producer:
                for i in range(count):
                    await producer.send(topic, b"m%d" % i, key=b"k%d" % i)
            for group, consumer in zip(groups, consumers, strict=True):
                got = await ctx.collect(consumer, count)
                got += await ctx.quiet_receive(consumer)
                values = sorted(m.value for m in got)
                assert set(values) == {b"m%d" % i for i in range(count)}, f"{group} missed some"
                await consumer.close()

    @requires(Feature.BROADCAST)
    async def test_consumers_without_group_each_get_everything(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker, partitions=ctx.partitions(2))
            async with broker.producer() as producer:
                await producer.send(topic, b"before")  # nobody listens: nobody gets it
                async with broker.consumer(topic) as c1, broker.consumer(topic) as c2:
                    for i in range(10):
                        await producer.send(topic, b"m%d" % i)
                    got1 = await ctx.collect(c1, 10) + await ctx.quiet_receive(c1)
                    got2 = await ctx.collect(c2, 10) + await ctx.quiet_receive(c2)
                await producer.send(topic, b"while-away")
                async with broker.consumer(topic) as c3:
                    await producer.send(topic, b"after")
                    got3 = await ctx.collect(c3, 1) + await ctx.quiet_receive(c3)
        expected = sorted(b"m%d" % i for i in range(10))
        assert sorted(m.value for m in got1) == expected
        assert sorted(m.value for m in got2) == expected
        assert [m.value for m in got3] == [b"after"], "a consumer without group saw old messages"

    @requires(Feature.DURABLE_GROUPS)
    async def test_durable_group_gets_what_was_sent_while_down(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker, partitions=ctx.partitions(2))
            group = ctx.group()
            async with broker.consumer(topic, group):
                pass  # the group exists from here on, even with no member
            async with broker.producer() as producer:
                for i in range(10):
                    await producer.send(topic, b"m%d" % i, key=b"k%d" % i)
            async with broker.consumer(topic, group) as consumer:
                got = await ctx.collect(consumer, 10) + await ctx.quiet_receive(consumer)
        assert sorted(m.value for m in got) == sorted(b"m%d" % i for i in range(10))

    @requires(Feature.CONSUMER_GROUPS)
    async def test_failover_hands_unacked_messages_to_others(self, ctx: TestContext) -> None:
        ledger = Ledger()
        count = 40
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker, partitions=ctx.partitions(4))
            group = ctx.group()
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
            got = await ctx.collect(survivor, count - len(held) // 2)
            got += await ctx.quiet_receive(survivor)
            ctx.observe("failover.handover_seconds", round(loop.time() - started, 3))
            for msg in got:
                ledger.record(msg.value)
            await survivor.close()
        ctx.observe("failover.duplicates", ledger.duplicates)
        assert unacked <= {m.value for m in got}, "unacked messages of the leaver were lost"
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
                assert len(first) == 1, "the message never arrived"
                seen_by_other = await ctx.quiet_receive(other, ack=False)
                assert seen_by_other == [], "another member saw a message being processed"
                await first[0].ack()
                assert await ctx.quiet_receive(other) == []
                assert await ctx.quiet_receive(holder) == []
