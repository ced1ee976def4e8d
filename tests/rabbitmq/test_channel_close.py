"""Sends after RabbitMQ closed the producer's channel (404 on a deleted exchange).

The server closes the channel on the first publish to a missing exchange. Concurrent sends
queued behind it must not write on that dead channel id: a frame on a closed channel is a
connection-level CHANNEL_ERROR, which closes the shared connection and with it every
consumer channel on the Broker (their unacked messages are redelivered).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest

import anymq
from tests.rabbitmq.helpers import with_query

pytestmark = [pytest.mark.rabbitmq, pytest.mark.anymq]

SENDS = 50


def _name(label: str) -> str:
    return f"anymq-rmq-{label}-{uuid.uuid4().hex[:8]}"


async def _delete_elsewhere(url: str, topic: str) -> None:
    async with anymq.connect(url) as other:
        await other.delete_topic(topic)


async def _concurrent_sends(producer: anymq.Producer, topic: str) -> tuple[list[Any], float]:
    started = time.monotonic()
    results = await asyncio.wait_for(
        asyncio.gather(
            *(producer.send(topic, f"m{i}".encode()) for i in range(SENDS)),
            return_exceptions=True,
        ),
        30,
    )
    return results, time.monotonic() - started


def _assert_kept(conn: Any, before: Any) -> None:
    """The broker's connection is the one from before the sends, and still open."""
    assert conn.transport is not None
    assert conn.transport.connection is before, "the shared connection was replaced"
    assert not before.is_closed, "the shared connection was closed"


@pytest.mark.parametrize("mode", ["classic", "stream"])
async def test_concurrent_sends_to_a_deleted_topic_fail_fast(rabbitmq_url: str, mode: str) -> None:
    url = with_query(rabbitmq_url, mode=mode)
    topic = _name("gone")
    async with anymq.connect(url) as broker:
        await broker.create_topic(topic)
        async with broker.producer() as producer:
            await producer.send(topic, b"first")  # the topic is now known to the producer
            await _delete_elsewhere(url, topic)
            conn: Any = broker.driver.amqp.conn  # type: ignore[attr-defined]
            before = conn.transport.connection
            results, took = await _concurrent_sends(producer, topic)
            kinds = sorted({type(r).__name__ for r in results})
            assert kinds == ["TopicNotFound"], results[:5]
            assert took < 3, f"{SENDS} sends took {took:.1f}s"
            _assert_kept(conn, before)
            # The producer still works for a topic that exists.
            other = _name("alive")
            await broker.create_topic(other)
            try:
                await producer.send(other, b"still fine")
            finally:
                await broker.delete_topic(other)


@pytest.mark.parametrize("group", ["g", None])
@pytest.mark.parametrize("mode", ["classic", "stream"])
async def test_consumer_on_the_same_broker_keeps_its_channel(
    rabbitmq_url: str, mode: str, group: str | None
) -> None:
    url = with_query(rabbitmq_url, mode=mode)
    gone, kept = _name("gone"), _name("kept")
    async with anymq.connect(url) as broker:
        await broker.create_topic(gone)
        await broker.create_topic(kept)
        conn: Any = broker.driver.amqp.conn  # type: ignore[attr-defined]
        reconnects: list[Any] = []
        conn.reconnect_callbacks.add(lambda *args: reconnects.append(args))
        try:
            async with broker.consumer(kept, group) as consumer, broker.producer() as producer:
                await producer.send(kept, b"held")
                [held] = await consumer.receive(1, 10)
                assert held.delivery_count == 1
                await producer.send(gone, b"first")
                await _delete_elsewhere(url, gone)
                before = conn.transport.connection
                results, took = await _concurrent_sends(producer, gone)
                kinds = sorted({type(r).__name__ for r in results})
                assert kinds == ["TopicNotFound"], results[:5]
                assert took < 3, f"{SENDS} sends took {took:.1f}s"
                _assert_kept(conn, before)
                assert reconnects == []
                # Nothing was redelivered: the held message is still ours to ack.
                assert await consumer.receive(10, 1.0) == []
                await held.ack()
                await producer.send(kept, b"after")
                [after] = await consumer.receive(1, 10)
                assert (after.value, after.delivery_count) == (b"after", 1)
                await after.ack()
        finally:
            await broker.delete_topic(kept)


async def test_sends_to_a_live_topic_survive_a_404_on_the_same_channel(rabbitmq_url: str) -> None:
    """Sends to an existing topic that the 404 of a concurrent send caught unconfirmed are
    published again on the reopened channel: none fails, none is lost."""
    gone, kept = _name("gone"), _name("kept")
    async with anymq.connect(rabbitmq_url) as broker:
        await broker.create_topic(gone)
        await broker.create_topic(kept)
        try:
            async with broker.consumer(kept, "g") as consumer, broker.producer() as producer:
                await producer.send(gone, b"first")
                await _delete_elsewhere(rabbitmq_url, gone)
                sends = [
                    producer.send(gone if i % 2 else kept, f"m{i}".encode()) for i in range(SENDS)
                ]
                results = await asyncio.wait_for(asyncio.gather(*sends, return_exceptions=True), 30)
                failed = [r for i, r in enumerate(results) if i % 2]
                sent = [r for i, r in enumerate(results) if not i % 2]
                assert {type(r).__name__ for r in failed} == {"TopicNotFound"}
                assert all(isinstance(r, anymq.Receipt) for r in sent), sent
                got: set[bytes] = set()
                deadline = time.monotonic() + 10
                while len(got) < len(sent) and time.monotonic() < deadline:
                    for msg in await consumer.receive(100, 0.5):
                        got.add(msg.value)
                        await msg.ack()
                assert got == {f"m{i}".encode() for i in range(0, SENDS, 2)}
        finally:
            await broker.delete_topic(kept)
