"""Contract: the application runtime (``anymq.App``) means the same on every backend.

Per-key order under concurrency, acks only for finished handlers (a crash mid-handler
redelivers exactly the unfinished messages), and an undecodable payload dead-lettered with
its reason, or refused up front where the backend has no dead letters.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import defaultdict
from typing import Any

import pytest

from anymq.deadletter import PREFIX
from anymq.errors import UnsupportedFeature
from anymq.features import Feature
from anymq.message import Received
from anymq.runtime import App
from anymq.testing.context import TestContext
from anymq.testing.decorators import requires


async def _until(ctx: TestContext, check: Any, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ctx.timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {ctx.timeout:g}s waiting for {what}")
        await asyncio.sleep(0.02)


class RuntimeContract:
    """anymq.App on the backend under test."""

    @requires(Feature.CONSUMER_GROUPS, Feature.KEY_ORDERING)
    async def test_app_keeps_key_order_under_concurrency(self, ctx: TestContext) -> None:
        keys, per_key, concurrency = 6, 10, 4
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker, partitions=ctx.partitions(4))
        rng = random.Random(7)
        seen: dict[bytes, list[int]] = defaultdict(list)
        active: set[bytes] = set()
        overlaps: list[bytes] = []
        running = peak = 0
        app = App(ctx.url)

        @app.handler(topic, group=ctx.group(), concurrency=concurrency, serializer=None)
        async def handle(body: bytes, msg: Received) -> None:
            nonlocal running, peak
            key = msg.key or b""
            if key in active:
                overlaps.append(key)
            active.add(key)
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(rng.random() * 0.003)
            seen[key].append(int(body))
            running -= 1
            active.discard(key)

        async with app:
            async with app.broker.producer() as producer:
                for seq in range(per_key):
                    for k in range(keys):
                        await producer.send(topic, b"%d" % seq, key=b"key-%d" % k)
            await _until(
                ctx, lambda: sum(map(len, seen.values())) >= keys * per_key, "every message"
            )
            await asyncio.sleep(ctx.quiet)
        ctx.observe("runtime.peak_in_flight", peak)
        assert overlaps == [], f"keys handled concurrently with themselves: {overlaps}"
        for key, order in seen.items():
            assert order == list(range(per_key)), f"{key!r} out of order: {order}"
        assert len(seen) == keys
        assert 1 <= peak <= concurrency

    @requires(Feature.CONSUMER_GROUPS, Feature.DURABLE_GROUPS)
    async def test_app_crash_redelivers_only_unfinished_messages(self, ctx: TestContext) -> None:
        bodies = [b"stuck-%d" % n if n in (1, 4) else b"done-%d" % n for n in range(8)]
        group = ctx.group()
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
        finished: list[bytes] = []
        first = App(ctx.url)

        @first.handler(topic, group=group, concurrency=4, serializer=None, on_poison="reject")
        async def work(body: bytes) -> None:
            if body.startswith(b"stuck"):
                await asyncio.Event().wait()  # the crash comes while this waits
            finished.append(body)

        running = asyncio.create_task(first.run())
        try:
            await _until(ctx, lambda: bool(first.runners) or running.done(), "the first run")
            async with first.broker.producer() as producer:
                for body in bodies:
                    await producer.send(topic, body)
            await _until(ctx, lambda: len(finished) >= 6, "the handlers that can finish")
        finally:
            running.cancel()  # no drain, nothing settled: the closest to a kill in-process
            with contextlib.suppress(asyncio.CancelledError):
                await running
        again: list[bytes] = []
        second = App(ctx.url)

        @second.handler(topic, group=group, concurrency=4, serializer=None, on_poison="reject")
        async def record(body: bytes) -> None:
            again.append(body)

        async with second:
            await _until(ctx, lambda: len(again) >= 2, "the unfinished messages")
            await asyncio.sleep(ctx.quiet)
        assert sorted(finished) == sorted(b for b in bodies if b.startswith(b"done"))
        assert sorted(again) == [b"stuck-1", b"stuck-4"], "finished work came back, or not all"

    async def test_app_dead_letters_an_undecodable_payload(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            dead_letters = broker.driver.dead_letter_topic(topic, ctx.group())
        handled: list[dict[str, Any]] = []
        app = App(ctx.url)

        @app.handler(topic, group=ctx.group(), concurrency=2)
        async def handle(payload: dict[str, Any]) -> None:
            handled.append(payload)

        if not ctx.has(Feature.DEAD_LETTER):
            with pytest.raises(UnsupportedFeature, match=r"on_poison='reject'"):
                await app.start()  # poison messages would be lost: refused up front
            ctx.outcome = "unsupported"
            return
        ctx._topics.append(dead_letters)
        async with app:
            async with app.broker.consumer(dead_letters, ctx.group("dlt")) as letters:
                async with app.broker.producer() as producer:
                    await producer.send(topic, b"not json", key=b"k")
                    await producer.send(topic, b'{"ok": 1}', key=b"k")
                [letter] = await ctx.collect(letters, 1)
            await _until(ctx, lambda: bool(handled), "the next message of the key")
        assert handled == [{"ok": 1}]
        assert (letter.key, letter.body) == (b"k", b"not json")
        assert letter.headers[PREFIX + "original-topic"] == topic.encode()
        assert letter.headers[PREFIX + "exception-fqcn"] == b"anymq.errors.SerializationError"
        assert b"not valid JSON" in letter.headers[PREFIX + "exception-message"]
