"""Contract: a topic deleted through another connection is TopicNotFound on this one.

"Another connection" is a second ``Broker`` (in production: another process or an admin
tool), so whatever this connection cached about the topic is stale. On every backend a send
to such a topic, a consumer started on it and a consumer already waiting in ``receive()`` or
``async for`` raise TopicNotFound within seconds, instead of a raw backend error, a consumer
that starts "successfully" or one that waits forever. The helpers are shared with the
backends' own, more detailed tests.
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
from anymq.testing.ledger import assert_received

#: Seconds within which a client of the stale connection must notice the deletion.
DETECT_WITHIN = 10.0
#: Seconds within which a send or a waiting consumer must notice it ("promptly"; the
#: backends document their own bound, all below this).
PROMPT = 5.0

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


async def waiting_consumer_fails(
    ctx: TestContext, broker: Broker, consumer: anymq.Consumer, topic: str
) -> float:
    """A consumer that got a message and waits in ``async for`` when another connection
    deletes ``topic`` raises TopicNotFound promptly, and so does a later ``receive()``.
    Returns the seconds the waiting consumer took to notice."""
    async with broker.producer() as producer:
        await producer.send(topic, b"before")
    got = await ctx.collect(consumer, 1)
    assert_received(f"the consumer of {topic!r}", [b"before"], [m.value for m in got])
    waiting = asyncio.ensure_future(anext(consumer))  # what `async for` waits in
    await asyncio.sleep(0.5)
    assert not waiting.done(), waiting
    await delete_elsewhere(ctx, topic)
    took = await fails_with_topic_not_found(
        waiting, "a consumer waiting in `async for` during the delete", within=PROMPT
    )
    await fails_with_topic_not_found(
        consumer.receive(timeout=PROMPT / 2), "receive() after the delete", within=PROMPT
    )
    return took


async def _start_consumer(broker: Broker, topic: str, group: str | None) -> None:
    async with broker.consumer(topic, group):
        pass


class TopicContract:
    """Sends, new consumers and waiting consumers of a topic another connection deleted."""

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

    async def test_send_to_topic_deleted_elsewhere(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            async with broker.producer() as producer:
                await producer.send(topic, b"before")  # this producer now knows the topic
                await delete_elsewhere(ctx, topic)
                took = await fails_with_topic_not_found(
                    producer.send(topic, b"after"), "a send after the delete", within=PROMPT
                )
                ctx.observe("deleted_topic.send_s", round(took, 2))
                await fails_with_topic_not_found(
                    producer.send(topic, b"again"), "a second send", within=PROMPT
                )

    @pytest.mark.parametrize("grouped", [True, False], ids=["group", "no-group"])
    async def test_live_consumer_of_topic_deleted_elsewhere(
        self, ctx: TestContext, grouped: bool
    ) -> None:
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            group = ctx.group() if grouped else None
            async with broker.consumer(topic, group) as consumer:
                took = await waiting_consumer_fails(ctx, broker, consumer, topic)
                ctx.observe("deleted_topic.live_consumer_s", round(took, 2))
