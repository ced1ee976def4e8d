"""Nothing left running after a failure on Kafka: no task, socket or timer (issue 18).

A close during an outage is not tried here: the brokers advertise their own address, so
only a closed port (a failed connect) can be had without stopping the shared cluster."""

from __future__ import annotations

import uuid

import pytest

import anymq
from tests.leaks import (
    assert_no_leak,
    cancelled_connect,
    cancelled_send,
    failed_connect,
    failed_start,
)

pytestmark = [pytest.mark.kafka, pytest.mark.anymq]

N = 200


async def test_failed_connect_to_a_closed_port_leaves_nothing() -> None:
    await assert_no_leak(lambda: failed_connect("kafka://127.0.0.1:1", connect_timeout=3), N)


async def test_failed_sasl_handshake_leaves_nothing(kafka_url: str) -> None:
    """Credentials the (plaintext) broker cannot take: refused, nothing left open."""
    url = kafka_url.replace("kafka://", "kafka://app:wrong@", 1)
    await assert_no_leak(lambda: failed_connect(url, connect_timeout=3), N)


@pytest.mark.parametrize("kind", ["producer", "consumer"])
async def test_failed_start_on_a_missing_topic_leaves_nothing(kafka_url: str, kind: str) -> None:
    await assert_no_leak(lambda: failed_start(kafka_url, kind), N)


async def test_cancelled_send_leaves_nothing(kafka_url: str) -> None:
    topic = f"anymq-leak-{uuid.uuid4().hex[:8]}"
    async with anymq.connect(kafka_url) as broker:
        await broker.create_topic(topic)
        try:
            async with broker.producer() as producer:
                await producer.send(topic, b"warm")
                for delay in (0, 0.001):
                    await assert_no_leak(lambda d=delay: cancelled_send(producer, topic, d), N)
        finally:
            await broker.delete_topic(topic)


async def test_cancelled_connect_leaves_nothing(kafka_url: str) -> None:
    delays = iter([(i % 50) * 0.001 for i in range(10_000)])
    await assert_no_leak(lambda: cancelled_connect(kafka_url, next(delays)), 100)
