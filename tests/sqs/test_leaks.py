"""Nothing left running after a failure on SQS: no task, socket or timer (issue 18).

A connect to a closed port takes about 1.7 s (botocore's retries), so that case runs 30
cycles: a leak of one per cycle still shows as 30. The close during an outage uses a
moto of the test's own, killed under open consumers; the shared one stays up."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

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
from tests.sqs.helpers import own_moto

pytestmark = [pytest.mark.sqs, pytest.mark.anymq]

N = 200


async def test_failed_connect_to_a_closed_port_leaves_nothing() -> None:
    url = "sqs://127.0.0.1:1?endpoint_url=http://127.0.0.1:1&region=us-east-1"
    await assert_no_leak(lambda: failed_connect(url, connect_timeout=2), 30)


async def test_failed_connect_with_wrong_keys_leaves_nothing() -> None:
    with own_moto(INITIAL_NO_AUTH_ACTION_COUNT="0") as (port, _):
        url = f"sqs://AKIDWRONG:Wr0ng-s3cret@?endpoint_url=http://127.0.0.1:{port}&region=us-east-1"
        await assert_no_leak(lambda: failed_connect(url, connect_timeout=3), 50)


@pytest.mark.parametrize("kind", ["producer", "consumer"])
async def test_failed_start_on_a_missing_topic_leaves_nothing(sqs_url: str, kind: str) -> None:
    await assert_no_leak(lambda: failed_start(sqs_url, kind), 50)


async def test_cancelled_send_leaves_nothing(sqs_url: str) -> None:
    topic = f"anymq-leak-{uuid.uuid4().hex[:8]}"
    async with anymq.connect(sqs_url) as broker:
        await broker.create_topic(topic)
        try:
            async with broker.producer() as producer:
                await producer.send(topic, b"warm")
                for delay in (0, 0.005):
                    await assert_no_leak(lambda d=delay: cancelled_send(producer, topic, d), N)
        finally:
            await broker.delete_topic(topic)


async def test_cancelled_connect_leaves_nothing(sqs_url: str) -> None:
    delays = iter([(i % 50) * 0.002 for i in range(10_000)])
    await assert_no_leak(lambda: cancelled_connect(sqs_url, next(delays)), 100)


async def test_close_during_an_outage_leaves_nothing() -> None:
    """20 brokers, each with a producer and a polling consumer, closed after their moto
    was killed: every task, socket and timer is gone afterwards."""
    n = 20
    before = await census()
    with own_moto() as (port, process):
        url = f"sqs://127.0.0.1:{port}?endpoint_url=http://127.0.0.1:{port}&region=us-east-1"
        topic = f"anymq-leak-{uuid.uuid4().hex[:8]}"
        async with anymq.connect(url) as admin:
            await admin.create_topic(topic)
        opened = []
        for _ in range(n):
            broker = anymq.connect(url, connect_timeout=3)
            await broker.start()
            producer = broker.producer()
            await producer.start()
            await producer.send(topic, b"x")
            consumer = broker.consumer(topic, group="g")
            await consumer.start()
            opened.append((broker, consumer))
        process.kill()
        process.wait()
        waiting = [asyncio.ensure_future(c.receive(timeout=5)) for _, c in opened]
        await asyncio.sleep(1)
        for broker, _ in opened:
            await broker.close()
        for wait in waiting:
            with contextlib.suppress(anymq.AnyMQError):
                await asyncio.wait_for(wait, 10)
    after = await census()
    assert after.tasks <= before.tasks
    assert after.fds <= before.fds
    assert after.timers <= before.timers
