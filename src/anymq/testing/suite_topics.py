"""Contract: a topic deleted through another connection is TopicNotFound on this one.

"Another connection" is a second ``Broker`` (in production: another process or an admin
tool), so whatever this connection cached about the topic is stale. Every backend refuses a
consumer started on such a topic with TopicNotFound within seconds, instead of a consumer
that starts "successfully" and then waits forever.

Sends and consumers that are already waiting should fail the same way, but not every
backend does that yet (RabbitMQ ``?mode=stream`` sends, a group-less RabbitMQ classic
consumer, SQS consumers that wait out their 20 s long poll), so those checks live in the
backends' own tests for now; the helpers here are shared with them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TypeVar

import pytest

import anymq
from anymq.client import Broker
from anymq.testing.context import TestContext

#: Seconds within which a client of the stale connection must notice the deletion.
DETECT_WITHIN = 10.0

T = TypeVar("T")


async def fails_with_topic_not_found(
    call: Awaitable[T], what: str, *, within: float = DETECT_WITHIN
) -> float:
    """Await ``call``; it must raise TopicNotFound within ``within`` seconds. Returns seconds."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(within):
            result = await call
    except anymq.TopicNotFound:
        return time.monotonic() - started
    except TimeoutError:
        pytest.fail(f"{what}: no TopicNotFound within {within:g}s (it blocked)")
    except anymq.AnyMQError as exc:
        pytest.fail(
            f"{what}: expected TopicNotFound, got {type(exc).__name__} after "
            f"{time.monotonic() - started:.1f}s: {exc}"
        )
    pytest.fail(f"{what}: expected TopicNotFound, it returned {result!r}")


async def delete_elsewhere(ctx: TestContext, topic: str) -> None:
    """Delete ``topic`` through a second connection, so the first one's caches are stale."""
    async with ctx.broker() as other:
        await other.delete_topic(topic)


async def _start_consumer(broker: Broker, topic: str, group: str | None) -> None:
    async with broker.consumer(topic, group):
        pass


class TopicContract:
    """A consumer started after another connection deleted its topic."""

    @pytest.mark.parametrize("grouped", [True, False], ids=["group", "no-group"])
    async def test_new_consumer_on_topic_deleted_elsewhere(
        self, ctx: TestContext, grouped: bool
    ) -> None:
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            group = ctx.group() if grouped else None
            await _start_consumer(broker, topic, group)  # this connection now knows the topic
            async with broker.producer() as producer:
                await producer.send(topic, b"before")
            await delete_elsewhere(ctx, topic)
            took = await fails_with_topic_not_found(
                _start_consumer(broker, topic, group), "starting a consumer on the deleted topic"
            )
            ctx.observe("deleted_topic.consumer_start_s", round(took, 2))
