"""Contract: a client whose start fails leaves nothing behind and can start again later."""

from __future__ import annotations

import asyncio

import pytest

import anymq
from anymq.testing.context import TestContext
from anymq.testing.ledger import assert_received

#: Failed starts per test: enough that a leak per start stands out from noise.
ATTEMPTS = 20


def _other_tasks(before: set[asyncio.Task[object]]) -> set[asyncio.Task[object]]:
    """Tasks still running that were not there ``before`` (the test's own excluded)."""
    return {t for t in asyncio.all_tasks() - before if not t.done()} - {asyncio.current_task()}


class LifecycleContract:
    """Failed starts: no child kept by the broker, no task left running, a retry works."""

    async def test_failed_consumer_start_leaves_nothing_behind(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:  # auto_create_topics is off by default everywhere
            missing = ctx.name("missing")

            async def fail() -> None:
                consumer = broker.consumer(missing, ctx.group())
                with pytest.raises(anymq.TopicNotFound):
                    await consumer.start()

            await fail()  # first: shared clients a broker makes lazily are not leaks
            await asyncio.sleep(ctx.quiet)
            before = asyncio.all_tasks()
            children = len(broker._children)
            for _ in range(ATTEMPTS):
                await fail()

            async def settled() -> bool:
                return not _other_tasks(before)

            leftover = ""
            try:
                await ctx.eventually(settled, "the failed starts' tasks ended", timeout=10)
            except AssertionError:
                leftover = ", ".join(sorted(t.get_name() for t in _other_tasks(before)))
            assert not leftover, f"{ATTEMPTS} failed starts left tasks running: {leftover}"
            assert len(broker._children) == children, (
                f"the broker keeps {len(broker._children) - children} consumers whose start "
                f"failed (of {ATTEMPTS}) until it is closed"
            )

    async def test_consumer_starts_after_a_failed_start(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:
            name = ctx.name("later")
            consumer = broker.consumer(name, ctx.group(), start="latest")
            with pytest.raises(anymq.TopicNotFound):
                await consumer.start()
            topic = await ctx.topic(broker, "later")
            assert topic == name
            await consumer.start()  # the same consumer, once the topic exists
            assert consumer in broker._children, "a started consumer is closed with its broker"
            async with broker.producer() as producer:
                await producer.send(topic, b"after the retry")
            got = await ctx.collect(consumer, 1)
            assert_received(
                "the consumer started again", [b"after the retry"], [m.value for m in got]
            )
        with pytest.raises(anymq.ClosedError):
            await consumer.receive(timeout=0)
