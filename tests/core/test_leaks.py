"""Nothing left running after a failure on the memory backend (issue 18 item 4).

The memory backend opens no socket, so a leak here is a task or timer of the core
(src/anymq/client.py lifecycles) that every backend would share."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest

import anymq
from tests.leaks import assert_no_leak, cancelled_connect, cancelled_send, failed_start

pytestmark = [pytest.mark.memory, pytest.mark.anymq]

N = 200


@pytest.mark.parametrize("kind", ["producer", "consumer"])
async def test_failed_start_on_a_missing_topic_leaves_nothing(kind: str) -> None:
    await assert_no_leak(lambda: failed_start("memory://", kind), N)


async def test_cancelled_send_leaves_nothing() -> None:
    topic = f"leak-{uuid.uuid4().hex[:8]}"
    async with anymq.connect("memory://") as broker:
        await broker.create_topic(topic)
        async with broker.producer() as producer:
            await assert_no_leak(lambda: cancelled_send(producer, topic), N)


async def test_cancelled_start_leaves_nothing() -> None:
    await assert_no_leak(lambda: cancelled_connect("memory://", 0), N)


async def test_close_with_a_receive_waiting_leaves_nothing() -> None:
    """A consumer closed (with its broker) while a receive waits: the wait ends, nothing
    stays behind (the memory backend's stand-in for a close during an outage)."""

    async def cycle() -> None:
        topic = f"leak-{uuid.uuid4().hex[:8]}"
        broker = anymq.connect("memory://")
        await broker.start()
        await broker.create_topic(topic)
        consumer = broker.consumer(topic, group="g")
        await consumer.start()
        waiting = asyncio.ensure_future(consumer.receive(timeout=5))
        await asyncio.sleep(0)
        await broker.close()
        with contextlib.suppress(anymq.AnyMQError):
            await asyncio.wait_for(waiting, 2)

    await assert_no_leak(cycle, N)
