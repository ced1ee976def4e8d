"""Contract: per-key order, key → partition affinity, an even round-robin spread."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict

from anymq.client import Consumer
from anymq.features import Feature
from anymq.testing.context import TestContext
from anymq.testing.decorators import requires
from anymq.testing.ledger import Ledger


class OrderContract:
    """Ordering and partitioning."""

    @requires(Feature.KEY_ORDERING)
    async def test_per_key_order_across_keys_and_partitions(self, ctx: TestContext) -> None:
        keys, per_key = 12, 15
        members = 2 if ctx.has(Feature.PARTITIONS) else 1
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker, partitions=ctx.partitions(4))
            group = ctx.group()
            consumers = [broker.consumer(topic, group, prefetch=20) for _ in range(members)]
            for consumer in consumers:
                await consumer.start()
            ledger = Ledger(f"group {group!r}", ordered=True)
            async with broker.producer() as producer:
                for seq in range(per_key):
                    for k in range(keys):
                        key = b"key-%d" % k
                        await producer.send(topic, ledger.expect(b"%d:%d" % (k, seq), key), key=key)
            seen: dict[bytes, list[int]] = defaultdict(list)

            async def drain(consumer: Consumer) -> None:
                while not ledger.complete():
                    for msg in await consumer.receive(max_messages=20, timeout=0.2):
                        ledger.record(msg.value)
                        seen[msg.key or b""].append(int(msg.value.split(b":")[1]))
                        await msg.ack()

            await ctx.until_delivered(
                *(drain(c) for c in consumers),
                arrived=lambda: len(ledger.received),
                missing=ledger.describe,
                proven=lambda: ctx.proven_lost(ledger),
            )
            for consumer in consumers:
                await consumer.close()
        violations = sum(
            1 for order in seen.values() for a, b in itertools.pairwise(order) if b < a
        )
        ctx.observe("key_order.violations", violations)
        ledger.assert_complete()
        for key, order in seen.items():
            assert order == sorted(order), (
                f"{key!r} was expected in send order 0..{per_key - 1}; received as {order}"
            )

    @requires(Feature.PARTITIONS)
    async def test_key_stays_on_one_partition(self, ctx: TestContext) -> None:
        partitions = ctx.partitions(4)
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker, partitions=partitions)
            ledger = Ledger(f"group {ctx.group()!r}", ordered=True)
            async with broker.consumer(topic, ctx.group()) as consumer:
                placed: dict[bytes, set[int | None]] = defaultdict(set)
                async with broker.producer() as producer:
                    for rnd in range(3):
                        for k in range(30):
                            key = b"user-%d" % k
                            value = ledger.expect(b"%d:%d" % (k, rnd), key)
                            receipt = await producer.send(topic, value, key=key)
                            placed[key].add(receipt.partition)
                got = await ctx.collect(consumer, 90, ledger=ledger)
        ledger.assert_complete()
        for key, where in placed.items():
            assert len(where) == 1, f"{key!r} landed on partitions {where}"
        for msg in got:
            assert {msg.partition} == placed[msg.key or b""], "receipt and delivery disagree"
        used = Counter(next(iter(p)) for p in placed.values())
        ctx.observe("hash_partitioner.keys_per_partition", [used[p] for p in range(partitions)])
        assert len(used) > 1, "30 keys all hashed to one partition"

    @requires(Feature.PARTITIONS, Feature.ROUND_ROBIN)
    async def test_round_robin_spreads_evenly(self, ctx: TestContext) -> None:
        partitions, count = ctx.partitions(4), 400
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker, partitions=partitions)
            spread: Counter[int | None] = Counter()
            async with broker.producer(partitioner="round_robin") as producer:
                for i in range(count):
                    receipt = await producer.send(topic, b"m%d" % i, key=b"same-key")
                    spread[receipt.partition] += 1
        counts = [spread[p] for p in range(partitions)]
        ctx.observe("round_robin.per_partition", counts)
        mean = count / partitions
        even = (
            f"round_robin was expected to put {0.9 * mean:g} to {1.1 * mean:g} of {count} "
            f"messages on each of {partitions} partitions; the receipts show {counts}"
        )
        assert min(counts) >= 0.9 * mean, even
        assert max(counts) <= 1.1 * mean, even
