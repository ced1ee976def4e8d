"""Nothing left running after a failure on RabbitMQ: no task, socket or timer (issue 18)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import replace

import pytest

import anymq
from tests.leaks import (
    assert_no_leak,
    cancelled_connect,
    cancelled_send,
    census,
    failed_connect,
    failed_start,
)
from tests.rabbitmq.helpers import server, with_query

pytestmark = [pytest.mark.rabbitmq, pytest.mark.anymq]

N = 200


@pytest.fixture(params=["classic", "stream"])
def url(request: pytest.FixtureRequest, rabbitmq_url: str) -> str:
    return rabbitmq_url if request.param == "classic" else with_query(rabbitmq_url, mode="stream")


async def test_failed_connect_to_a_closed_port_leaves_nothing() -> None:
    await assert_no_leak(lambda: failed_connect("amqp://guest:guest@127.0.0.1:1/"), N)


async def test_failed_connect_with_wrong_credentials_leaves_nothing(rabbitmq_url: str) -> None:
    url = replace(anymq.URL.parse(rabbitmq_url), password="wrong")
    text = url.render(hide_password=False)
    await assert_no_leak(lambda: failed_connect(text), N)


@pytest.mark.parametrize("kind", ["producer", "consumer"])
async def test_failed_start_on_a_missing_topic_leaves_nothing(url: str, kind: str) -> None:
    await assert_no_leak(lambda: failed_start(url, kind), 50 if kind == "consumer" else N)


async def test_cancelled_send_leaves_nothing(url: str) -> None:
    topic = f"anymq-leak-{uuid.uuid4().hex[:8]}"
    async with anymq.connect(url) as broker:
        await broker.create_topic(topic)
        try:
            async with broker.producer() as producer:
                await producer.send(topic, b"warm")
                for delay in (0, 0.001):
                    await assert_no_leak(lambda d=delay: cancelled_send(producer, topic, d), N)
        finally:
            await broker.delete_topic(topic)


async def test_start_cancelled_during_the_handshake_leaves_no_connection(
    rabbitmq_url: str,
) -> None:
    """aiormq runs its handshake in a task of its own: a cancel that lands just as it
    finished dropped the open connection (a socket and three tasks, about one cancel in
    twenty between 3 and 9 ms). The cancels sweep that window in 0.1 ms steps."""
    delays = iter([0.002 + (i % 80) * 0.0001 for i in range(10_000)])

    async def cycle() -> None:
        await cancelled_connect(rabbitmq_url, next(delays))

    await assert_no_leak(cycle, N)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["classic", "stream"])
async def test_close_during_an_outage_leaves_nothing(mode: str) -> None:
    """20 brokers, each with a producer and a consumer waiting in receive, closed while
    their server (a throwaway node of this test's own) is stopped."""
    port = 5737
    env = {"ANYMQ_RABBITMQ_PORT": str(port), "ANYMQ_RABBITMQ_DIR": f"/tmp/rmq-{port}"}
    url = with_query(f"amqp://guest:guest@127.0.0.1:{port}/", mode=mode)
    await server(url, "start", env)
    before = await census()
    try:
        topic = f"anymq-leak-{uuid.uuid4().hex[:8]}"
        async with anymq.connect(url) as admin:
            await admin.create_topic(topic)
        opened = []
        for _ in range(20):
            broker = anymq.connect(url, connect_timeout=3)
            await broker.start()
            producer = broker.producer()
            await producer.start()
            await producer.send(topic, b"x")
            consumer = broker.consumer(topic, group="g")
            await consumer.start()
            opened.append((broker, consumer))
        await server(url, "stop", env)
        waiting = [asyncio.ensure_future(c.receive(timeout=5)) for _, c in opened]
        await asyncio.sleep(1)
        for broker, _ in opened:
            await broker.close()
        for wait in waiting:
            with contextlib.suppress(anymq.AnyMQError):
                await asyncio.wait_for(wait, 10)
        after = await census()
    finally:
        await server(url, "stop", env)
    assert after.tasks <= before.tasks
    assert after.fds <= before.fds
    assert after.timers <= before.timers
