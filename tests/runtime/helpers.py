"""Shared bits of the runtime tests: unique names, sending, waiting for a condition."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from anymq.client import Broker


def unique(label: str) -> str:
    return f"rt-{label}-{uuid.uuid4().hex[:8]}"


async def send(broker: Broker, topic: str, items: list[tuple[bytes | None, bytes]]) -> None:
    """Send (key, body) pairs in order, one at a time (so each key's order is the list's)."""
    async with broker.producer() as producer:
        for key, body in items:
            await producer.send(topic, body, key=key)


async def until(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Wait until ``check()`` is true; fail naming ``what`` after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
