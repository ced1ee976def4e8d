"""Metrics on memory://: consumed, acked, retried, dead-lettered, sent, the handler
duration histogram and the consumer-lag gauge, recorded with the SDK's in-memory reader."""

from __future__ import annotations

import uuid

import pytest

import anymq
from tests.otel.conftest import Recorded
from tests.runtime.helpers import until

pytestmark = pytest.mark.anymq


async def test_the_runtime_counts_each_outcome(otel: Recorded) -> None:
    url = f"memory://otel-{uuid.uuid4().hex[:8]}"
    app = anymq.App(url)
    handled: list[bytes] = []

    @app.handler("orders", group="billing", serializer=None, max_deliveries=2)
    async def bill(body: bytes) -> None:
        if body == b"bad":
            raise ValueError("always fails")
        handled.append(body)

    async with anymq.connect(url) as broker:
        await broker.create_topic("orders")
    async with app:
        async with app.broker.producer() as producer:
            for body in (b"a", b"bad", b"b", b"c"):
                await producer.send("orders", body)
        await until(
            lambda: (
                otel.total("anymq.client.dead_lettered.messages") == 1
                and otel.total("anymq.client.acked.messages") == 3
            ),
            "three acks and a dead letter",
        )
    where = {"messaging.system": "anymq-memory", "messaging.destination.name": "orders"}
    group = {**where, "messaging.consumer.group.name": "billing"}
    sends = {**where, "messaging.operation.type": "send", "messaging.operation.name": "send"}
    assert otel.points("messaging.client.sent.messages") == [(sends, 4)]
    assert otel.total("messaging.client.consumed.messages", **_kw(group)) == 5  # 4 + 1 retry
    assert otel.points("anymq.client.acked.messages") == [(group, 3)]
    assert otel.points("anymq.client.retried.messages") == [(group, 1)]
    # the runtime dead-letters the last failed delivery itself: the handler's exception is
    # the error type, not the generic limit
    assert otel.points("anymq.client.dead_lettered.messages") == [
        ({**group, "error.type": "ValueError"}, 1)
    ]
    durations = dict(
        (attributes.get("error.type"), count)
        for attributes, count in otel.points("messaging.process.duration")
    )
    assert durations == {None: 3, "ValueError": 2}


async def test_the_lag_gauge_follows_the_backlog(otel: Recorded) -> None:
    async with anymq.connect(f"memory://otel-{uuid.uuid4().hex[:8]}") as broker:
        await broker.create_topic("orders", partitions=2)
        async with broker.consumer("orders", "billing") as consumer:
            async with broker.producer() as producer:
                for i in range(6):
                    await producer.send("orders", b"x", partition=i % 2)
            await until(lambda: otel.total("anymq.consumer.lag") == 6, "a lag of 6")
            partitions = {
                attributes["messaging.destination.partition.id"]: lag
                for attributes, lag in otel.points("anymq.consumer.lag")
            }
            assert partitions == {"0": 3, "1": 3}
            got = []
            while len(got) < 6:
                got += await consumer.receive(6, timeout=5)
            await consumer.ack_many(got)
            await until(lambda: otel.total("anymq.consumer.lag") == 0, "no lag")
        assert otel.total("anymq.client.acked.messages") == 6


def _kw(attributes: dict[str, str]) -> dict[str, str]:
    return {k.replace(".", "__"): v for k, v in attributes.items()}
