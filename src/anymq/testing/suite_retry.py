"""Contract: the runtime's ack table means the same on every backend — retries with the
backoff observed and the key's order kept, rules per exception, exhausted retries to the
dead-letter topic with the exception, and a graceful stop that acks what finished and
leaves what did not to be redelivered.

Where the backend has no dead letters, a handler whose failures can end there is refused
at start with UnsupportedFeature (the message would otherwise be lost).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import pytest

from anymq.deadletter import PREFIX
from anymq.errors import UnsupportedFeature
from anymq.features import Feature
from anymq.message import Received
from anymq.runtime import UNLIMITED, App, Backoff
from anymq.testing.context import TestContext
from anymq.testing.decorators import requires

#: Seconds a measured backoff may fall short of the policy's (timer and clock resolution).
EARLY = 0.02


async def _until(ctx: TestContext, check: Any, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ctx.timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {ctx.timeout:g}s waiting for {what}")
        await asyncio.sleep(0.02)


async def _next_run(ctx: TestContext, topic: str, group: str, expect: int) -> list[Received]:
    """What the group's next run gets (the redelivered messages): ``expect`` of them, then
    nothing more for a quiet while."""
    got: list[Received] = []
    app = App(ctx.url, drain_timeout=0)

    @app.handler(topic, group=group, serializer=None, concurrency=8, on_poison="reject")
    async def record(msg: Received) -> None:
        got.append(msg)

    async with app:
        if expect:
            await _until(ctx, lambda: len(got) >= expect, f"{expect} redelivered message(s)")
        await asyncio.sleep(max(ctx.quiet, 1.0))
    return got


def _refused(ctx: TestContext) -> bool:
    return not ctx.has(Feature.DEAD_LETTER)


class RetryContract:
    """Retries, error rules and graceful stops of anymq.App on the backend under test."""

    @requires(Feature.CONSUMER_GROUPS, Feature.DURABLE_GROUPS)
    async def test_app_retries_with_the_backoff(self, ctx: TestContext) -> None:
        """A keyed and a keyless message each fail twice: every retry waits at least the
        policy's delay, delivery_count grows, and the third attempt is acked."""
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
        group = ctx.group()
        backoff = Backoff(initial=0.3, max=0.5, multiplier=2.0, jitter=0.0)
        attempts: dict[bytes, list[tuple[int, float]]] = {b"keyed": [], b"keyless": []}
        app = App(ctx.url)

        @app.handler(topic, group=group, serializer=None, retry=backoff, on_poison="reject")
        async def flaky(body: bytes, msg: Received) -> None:
            attempts[body].append((msg.delivery_count, time.monotonic()))
            if len(attempts[body]) < 3:
                raise TimeoutError("the service did not answer")

        if _refused(ctx):
            with pytest.raises(UnsupportedFeature, match=r"max_deliveries"):
                await app.start()
            ctx.outcome = "unsupported"
            return
        async with app:
            async with app.broker.producer() as producer:
                await producer.send(topic, b"keyed", key=b"k")
                await producer.send(topic, b"keyless")
            await _until(
                ctx, lambda: all(len(a) >= 3 for a in attempts.values()), "three attempts each"
            )
        for body, tries in attempts.items():
            counts = [count for count, _ in tries]
            # delivery_count starts at 1 and grows with every attempt; it may skip a number
            # where the broker counts a receive the client handed back unseen (SQS's
            # ApproximateReceiveCount after a cancelled poll), never repeat or go back
            assert len(counts) == 3, f"{body!r}: {tries}"
            assert counts[0] == 1, f"{body!r}: {tries}"
            assert all(a < b for a, b in itertools.pairwise(counts)), f"{body!r}: {tries}"
            gaps = [b - a for (_, a), (_, b) in itertools.pairwise(tries)]
            ctx.observe(f"retry.{body.decode()}_gaps_s", [round(g, 3) for g in gaps])
            for gap, nominal in zip(gaps, (0.3, 0.5), strict=True):
                assert gap >= nominal - EARLY, f"{body!r} retried after {gap:.3f}s < {nominal}s"
        assert await _next_run(ctx, topic, group, 0) == [], "the successful attempt was not acked"

    @requires(Feature.CONSUMER_GROUPS, Feature.DURABLE_GROUPS)
    async def test_app_retries_without_limit(self, ctx: TestContext) -> None:
        """``max_deliveries=UNLIMITED``: a keyed message fails 6 times (past the default
        limit of 5) and its 7th attempt is acked, with nothing dead-lettered, so even a
        backend without dead letters runs such a handler."""
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
        group = ctx.group()
        attempts: list[int] = []
        app = App(ctx.url)

        @app.handler(
            topic,
            group=group,
            serializer=None,
            retry=Backoff(initial=0.05, max=0.05),
            max_deliveries=UNLIMITED,
            on_poison="reject",
        )
        async def flaky(body: bytes, msg: Received) -> None:
            attempts.append(msg.delivery_count)
            if len(attempts) < 7:
                raise TimeoutError("the service is down")

        async with app:
            async with app.broker.producer() as producer:
                await producer.send(topic, b"v", key=b"k")
            await _until(ctx, lambda: len(attempts) >= 7, "seven attempts")
        assert attempts == [1, 2, 3, 4, 5, 6, 7], attempts
        assert await _next_run(ctx, topic, group, 0) == [], "the successful attempt was not acked"

    @requires(Feature.CONSUMER_GROUPS, Feature.KEY_ORDERING)
    async def test_app_keeps_key_order_while_retrying(self, ctx: TestContext) -> None:
        """A failed message's key waits for its retry; another key goes on meanwhile."""
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
        order: list[bytes] = []
        app = App(ctx.url)

        @app.handler(
            topic,
            group=ctx.group(),
            serializer=None,
            concurrency=2,
            retry=Backoff(initial=0.5, max=0.5, jitter=0.0),
            on_poison="reject",
        )
        async def handle(body: bytes, msg: Received) -> None:
            if body == b"a1" and msg.delivery_count == 1:
                raise TimeoutError("first try fails")
            order.append(body)

        if _refused(ctx):
            with pytest.raises(UnsupportedFeature, match=r"max_deliveries"):
                await app.start()
            ctx.outcome = "unsupported"
            return
        async with app:
            async with app.broker.producer() as producer:
                for key, body in [(b"a", b"a1"), (b"a", b"a2"), (b"b", b"b1"), (b"b", b"b2")]:
                    await producer.send(topic, body, key=key)
            await _until(ctx, lambda: len(order) >= 4, "every message")
        assert order.index(b"a1") < order.index(b"a2"), f"key a out of order: {order}"
        assert order.index(b"b1") < order.index(b"b2"), f"key b out of order: {order}"
        assert order.index(b"b2") < order.index(b"a1"), f"key b waited for a's retry: {order}"

    @requires(Feature.CONSUMER_GROUPS)
    async def test_app_dead_letters_exhausted_retries_with_the_exception(
        self, ctx: TestContext
    ) -> None:
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            dead_letters = broker.driver.dead_letter_topic(topic, ctx.group())
        attempts: list[int] = []
        handled: list[bytes] = []
        app = App(ctx.url)

        @app.handler(
            topic,
            group=ctx.group(),
            serializer=None,
            retry=Backoff(initial=0.05, max=0.1),
            max_deliveries=3,
            on_poison="reject",
        )
        async def fail(body: bytes, msg: Received) -> None:
            if body == b"bad":
                attempts.append(msg.delivery_count)
                raise TimeoutError("still down")
            handled.append(body)

        if _refused(ctx):
            with pytest.raises(UnsupportedFeature, match=r"max_deliveries"):
                await app.start()
            ctx.outcome = "unsupported"
            return
        ctx._topics.append(dead_letters)
        async with app:
            async with app.broker.consumer(dead_letters, ctx.group("dlt")) as letters:
                async with app.broker.producer() as producer:
                    await producer.send(topic, b"bad", key=b"k")
                    await producer.send(topic, b"next", key=b"k")
                [letter] = await ctx.collect(letters, 1)
            await _until(ctx, lambda: bool(handled), "the key's next message")
        assert attempts == [1, 2, 3]
        assert (letter.key, letter.body) == (b"k", b"bad")
        assert letter.headers[PREFIX + "original-topic"] == topic.encode()
        assert letter.headers[PREFIX + "exception-fqcn"] == b"TimeoutError"
        assert letter.headers[PREFIX + "exception-message"] == b"still down"
        assert letter.headers["anymq-delivery-count"] == b"3"

    @requires(Feature.CONSUMER_GROUPS, Feature.DURABLE_GROUPS)
    async def test_app_applies_error_rules(self, ctx: TestContext) -> None:
        """on_error: ValueError dead-letters at once, KeyError drops (acks), anything else
        retries; nothing is left for the group afterwards."""
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            dead_letters = broker.driver.dead_letter_topic(topic, ctx.group())
        group = ctx.group()
        seen: list[tuple[bytes, int]] = []
        app = App(ctx.url)
        rules: dict[type[BaseException], Any] = {ValueError: "dead_letter", KeyError: "drop"}

        @app.handler(
            topic,
            group=group,
            serializer=None,
            retry=Backoff(initial=0.05, max=0.05),
            on_error=rules,
            on_poison="reject",
        )
        async def handle(body: bytes, msg: Received) -> None:
            seen.append((body, msg.delivery_count))
            if body == b"invalid":
                raise ValueError("cannot be valid")
            if body == b"unknown":
                raise KeyError("gone")
            if msg.delivery_count == 1:
                raise OSError("reset")

        if _refused(ctx):
            with pytest.raises(UnsupportedFeature, match=r"max_deliveries"):
                await app.start()
            ctx.outcome = "unsupported"
            return
        ctx._topics.append(dead_letters)
        async with app, app.broker.consumer(dead_letters, ctx.group("dlt")) as letters:
            async with app.broker.producer() as producer:
                for body in (b"invalid", b"unknown", b"flaky"):
                    await producer.send(topic, body, key=body)
            got = await ctx.collect(letters, 1)
            await _until(ctx, lambda: (b"flaky", 2) in seen, "the retry")
        assert [m.body for m in got] == [b"invalid"]
        assert got[0].headers[PREFIX + "exception-fqcn"] == b"ValueError"
        assert sorted(seen) == [(b"flaky", 1), (b"flaky", 2), (b"invalid", 1), (b"unknown", 1)]
        assert await _next_run(ctx, topic, group, 0) == [], "a settled message came back"

    @requires(Feature.CONSUMER_GROUPS, Feature.DURABLE_GROUPS)
    async def test_app_stop_drains_finished_work_and_redelivers_the_rest(
        self, ctx: TestContext
    ) -> None:
        """A stop waits for the handlers in flight (up to drain_timeout) and acks them; the
        one that outlasts the drain timeout is redelivered to the group's next run."""
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
        group = ctx.group()
        started: list[bytes] = []
        finished: list[bytes] = []
        app = App(ctx.url, drain_timeout=1.5)

        @app.handler(topic, group=group, serializer=None, concurrency=4, on_poison="reject")
        async def work(body: bytes) -> None:
            started.append(body)
            await asyncio.sleep(3600 if body == b"endless" else 0.5)
            finished.append(body)

        async with app:
            async with app.broker.producer() as producer:
                for body in (b"s1", b"s2", b"endless"):
                    await producer.send(topic, body, key=body)
            await _until(ctx, lambda: len(started) >= 3, "three handlers in flight")
            loop = asyncio.get_running_loop()
            stopping = loop.time()
        took = loop.time() - stopping
        ctx.observe("runtime.stop_with_drain_s", round(took, 2))
        assert sorted(finished) == [b"s1", b"s2"], "the stop did not wait for the handlers"
        again = await _next_run(ctx, topic, group, 1)
        assert [m.body for m in again] == [b"endless"], "finished work came back, or not all"
