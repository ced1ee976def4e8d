"""The Kafka consumer without aiokafka's private fetcher and coordinator: ``fast_fetch=false``
chooses it, and an aiokafka whose internals are not as expected gets it automatically."""

from __future__ import annotations

import logging
import uuid

import pytest

import anymq
import anymq_kafka.fetch
import anymq_kafka.private
from tests.kafka.test_fetch import _driver, _take, new_topic

pytestmark = [pytest.mark.kafka, pytest.mark.anymq]


async def _acks_survive_a_restart(url: str, topic: str, **options: object) -> None:
    """Out-of-order acks are kept in the commit metadata: after a restart only the unacked
    message comes back (the group's committed metadata is read on assignment)."""
    group = f"public-{uuid.uuid4().hex[:8]}"
    async with anymq.connect(url) as broker:
        async with broker.producer() as producer:
            await producer.send_batch(topic, [b"m0", b"m1", b"m2"])
        async with broker.consumer(topic, group, start="earliest", **options) as consumer:
            driver = _driver(consumer)
            assert driver.native is False, "the private fetcher hook was installed"
            assert driver.coordinator is None, "the private coordinator is in use"
            m0, m1, m2 = await _take(consumer, 3)
            assert [m.value for m in (m0, m1, m2)] == [b"m0", b"m1", b"m2"]
            await m0.ack()
            await m2.ack()  # m1 stays unsettled
        async with broker.consumer(topic, group, **options) as again:
            assert _driver(again).coordinator is None
            [back] = await _take(again, 1)
            assert (back.value, back.delivery_count) == (b"m1", 2)
            await back.ack()
            assert await again.receive(10, timeout=0.5) == [], "m2 was acked: not again"


async def test_fast_fetch_false_uses_public_aiokafka_only(kafka_url: str) -> None:
    async with new_topic(kafka_url) as topic:
        await _acks_survive_a_restart(kafka_url, topic, fast_fetch=False)


async def test_fast_fetch_false_on_the_url(kafka_url: str) -> None:
    url = f"{kafka_url}{'&' if '?' in kafka_url else '?'}fast_fetch=false"
    async with new_topic(kafka_url) as topic:
        await _acks_survive_a_restart(url, topic)


async def test_unexpected_aiokafka_internals_turn_the_fast_path_off(
    kafka_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """As if a newer aiokafka renamed what the fast path uses: no crash, the public path,
    and one warning per process (not one per consumer)."""
    monkeypatch.setattr(anymq_kafka.fetch, "_INIT", ("self", "renamed"))
    anymq_kafka.fetch._expected_shape.cache_clear()
    monkeypatch.setattr(
        anymq_kafka.private, "COORDINATOR_CALLS", ("fetch_committed_offsets", "renamed")
    )
    monkeypatch.setattr(anymq_kafka.private, "_warned", set())
    try:
        with caplog.at_level(logging.WARNING, logger="anymq_kafka"):
            async with new_topic(kafka_url) as topic:
                await _acks_survive_a_restart(kafka_url, topic)
    finally:
        anymq_kafka.fetch._expected_shape.cache_clear()
    warnings = [r for r in caplog.records if "aiokafka" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "fast_fetch" in warnings[0].getMessage()


async def test_fast_fetch_must_be_a_flag(kafka_url: str) -> None:
    async with anymq.connect(kafka_url) as broker:
        with pytest.raises(anymq.ConfigError, match="fast_fetch"):
            broker.consumer("t", "g", fast_fetch="sometimes")
