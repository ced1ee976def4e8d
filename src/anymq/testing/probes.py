"""For each feature, the call that must raise UnsupportedFeature where it is not declared.

The contract suite never skips: a test for an undeclared feature runs the probe instead and
asserts the backend refuses loudly at the call that needs the feature.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest

import anymq
from anymq.errors import UnsupportedFeature
from anymq.features import Feature
from anymq.testing.context import TestContext

Probe = Callable[[TestContext, anymq.Broker, str], Awaitable[object]]


async def _open(consumer: anymq.Consumer) -> None:
    async with consumer:
        pass


async def _second_group(ctx: TestContext, broker: anymq.Broker, topic: str) -> None:
    """Fan-out is a second group on a topic that already has one."""
    async with broker.consumer(topic, ctx.group("first")):
        await _open(broker.consumer(topic, ctx.group("second")))


async def _seek(ctx: TestContext, broker: anymq.Broker, topic: str, pos: anymq.Position) -> None:
    async with broker.consumer(topic, ctx.group()) as consumer:
        await consumer.seek(pos)


PROBES: dict[Feature, Probe] = {
    Feature.CONSUMER_GROUPS: lambda ctx, b, t: _open(b.consumer(t, ctx.group())),
    Feature.FAN_OUT: lambda ctx, b, t: _second_group(ctx, b, t),
    Feature.BROADCAST: lambda ctx, b, t: _open(b.consumer(t)),
    Feature.DURABLE_GROUPS: lambda ctx, b, t: _open(b.consumer(t, ctx.group())),
    Feature.DECLARED_GROUPS: lambda ctx, b, t: b.create_group(t, ctx.group()),
    Feature.LIST_GROUPS: lambda ctx, b, t: b.list_groups(t),
    Feature.RETAINS_CONSUMED: lambda ctx, b, t: _open(b.consumer(t, ctx.group(), start="earliest")),
    Feature.REPLAY: lambda ctx, b, t: _seek(ctx, b, t, anymq.Position.earliest()),
    Feature.SEEK_TIME: lambda ctx, b, t: _seek(
        ctx, b, t, anymq.Position.at_time(datetime.now(UTC))
    ),
    Feature.PARTITIONS: lambda ctx, b, t: b.create_topic(ctx.name("parts"), partitions=3),
    Feature.ROUND_ROBIN: lambda ctx, b, t: _open_producer(b, partitioner="round_robin"),
    Feature.KEY_ORDERING: lambda ctx, b, t: _require(b, Feature.KEY_ORDERING),
    Feature.EXACTLY_ONCE: lambda ctx, b, t: _require(b, Feature.EXACTLY_ONCE),
    Feature.DEAD_LETTER: lambda ctx, b, t: _open(b.consumer(t, ctx.group(), max_deliveries=3)),
    Feature.RETENTION_TIME: lambda ctx, b, t: b.create_topic(
        ctx.name("rt"), retention=anymq.Retention(time=__import__("datetime").timedelta(hours=1))
    ),
    Feature.RETENTION_BYTES: lambda ctx, b, t: b.create_topic(
        ctx.name("rb"), retention=anymq.Retention(bytes=1 << 20)
    ),
    Feature.RETENTION_MESSAGES: lambda ctx, b, t: b.create_topic(
        ctx.name("rm"), retention=anymq.Retention(messages=100)
    ),
    Feature.DELAYED_DELIVERY: lambda ctx, b, t: _send(b, t, delay=1.0),
    Feature.NACK_DELAY: lambda ctx, b, t: _nack_delay(ctx, b, t),
    Feature.ROUTING_KEYS: lambda ctx, b, t: _open(b.consumer(t, ctx.group(), binding="a.*")),
    Feature.COMPRESSION: lambda ctx, b, t: _open_producer(b, compression="gzip"),
}


async def _require(broker: anymq.Broker, feature: Feature) -> None:
    broker.require(feature)


async def _open_producer(broker: anymq.Broker, **options: object) -> None:
    async with broker.producer(**options):  # type: ignore[arg-type]
        pass


async def _send(broker: anymq.Broker, topic: str, **options: object) -> None:
    async with broker.producer() as producer:
        await producer.send(topic, b"probe", **options)  # type: ignore[arg-type]


async def _nack_delay(ctx: TestContext, broker: anymq.Broker, topic: str) -> None:
    async with broker.consumer(topic, ctx.group()) as consumer, broker.producer() as producer:
        await producer.send(topic, b"probe")
        msg = await ctx.receive_one(consumer, "the probe message b'probe'", ack=False)
        await msg.nack(delay=0.5)


async def assert_unsupported(ctx: TestContext, feature: Feature) -> None:
    """The feature is not declared: its API call must raise UnsupportedFeature naming it."""
    probe = PROBES[feature]
    async with ctx.broker() as broker:
        topic = await ctx.topic(broker, "probe")
        with pytest.raises(UnsupportedFeature) as info:
            await probe(ctx, broker, topic)
    assert info.value.feature == feature.value, info.value
    assert info.value.backend == ctx.backend
    ctx.observe("unsupported", feature.value)
