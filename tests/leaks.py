"""Counting what a cycle of failures leaves behind: asyncio tasks, open file descriptors
(sockets) and loop timers, before and after N cycles (issue 18 item 4)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anymq


@dataclass(frozen=True)
class Census:
    tasks: int
    fds: int
    timers: int


async def census() -> Census:
    """What is alive now, once callbacks of closed things have run."""
    for _ in range(3):
        await asyncio.sleep(0.05)
        gc.collect()
    loop = asyncio.get_running_loop()
    me = asyncio.current_task()
    return Census(
        tasks=sum(1 for t in asyncio.all_tasks() if t is not me),
        fds=len(os.listdir("/proc/self/fd")),
        timers=sum(1 for h in loop._scheduled if not h.cancelled()),  # type: ignore[attr-defined]
    )


async def assert_no_leak(cycle: Callable[[], Awaitable[object]], n: int) -> None:
    """Run ``cycle`` twice (warm-up: imports, pools), then ``n`` times; nothing may grow.

    A leak of one task, socket or timer per cycle shows as ``n`` more."""
    for _ in range(2):
        await cycle()
    before = await census()
    for _ in range(n):
        await cycle()
    after = await census()
    leftover = [t.get_coro() for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert after.tasks <= before.tasks, f"tasks {before.tasks} -> {after.tasks}: {leftover[:5]}"
    assert after.fds <= before.fds, f"open fds {before.fds} -> {after.fds} after {n} cycles"
    assert after.timers <= before.timers, f"timers {before.timers} -> {after.timers}"


async def failed_connect(url: str, **options: object) -> None:
    """Connect and use the broker; the connect must fail with an anymq error."""
    broker = anymq.connect(url, **options)
    try:
        async with broker:
            await broker.list_topics()
    except anymq.AnyMQError:
        return
    raise AssertionError(f"connecting to {broker!r} did not fail")


async def failed_start(url: str, kind: str) -> None:
    """Start a producer (and send) or a consumer on a topic that does not exist."""
    topic = f"anymq-missing-{uuid.uuid4().hex[:8]}"
    async with anymq.connect(url) as broker:
        try:
            if kind == "producer":
                async with broker.producer() as producer:
                    await producer.send(topic, b"x")
            else:
                async with broker.consumer(topic, group="g"):
                    pass
        except anymq.TopicNotFound:
            return
    raise AssertionError(f"the {kind} on the missing topic {topic} started")


async def cancelled_send(producer: anymq.Producer, topic: str, delay: float = 0) -> None:
    """Send and cancel the send before (or, with ``delay``, while) it completes."""
    task = asyncio.ensure_future(producer.send(topic, b"x"))
    await asyncio.sleep(delay)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, anymq.AnyMQError):
        await task


async def cancelled_connect(url: str, delay: float) -> None:
    """Start a broker, cancel the start after ``delay`` seconds, close the broker."""
    broker = anymq.connect(url, connect_timeout=5)
    task = asyncio.ensure_future(broker.start())
    await asyncio.sleep(delay)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, anymq.AnyMQError):
        await task
    await broker.close()
