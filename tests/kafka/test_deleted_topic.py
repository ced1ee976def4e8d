"""A topic deleted by another client (another Broker, process or admin tool) while this
connection still has it cached: sends, new producers and live consumers raise TopicNotFound
within seconds (issue 11, item 8). Before, a send took request_timeout_ms (30 s) and then
raised PublishError(NotLeaderForPartition), a new consumer started "successfully" and a live
consumer blocked forever. A send, a consumer start and a waiting consumer also run on every
backend in the contract suite (anymq.testing.suite_topics); these are Kafka's finer cases."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

import anymq
from anymq.testing.context import TestContext
from anymq.testing.suite_topics import (
    delete_elsewhere,
    fails_with_topic_not_found,
    waiting_consumer_fails,
)

pytestmark = [pytest.mark.kafka, pytest.mark.anymq]

#: Send and live-consumer detection measured at ~0.1 s; an idle member waits for its
#: periodic metadata refresh (5 s). Either way far below request_timeout_ms (30 s).
PROMPT = 3.0


@pytest.fixture
def ctx(kafka_url: str, request: pytest.FixtureRequest) -> TestContext:
    settings = {
        "quiet_period": 0.5,
        "delivery_timeout": 30.0,
        "topic_prefix": "anymq-kafka-deleted",
        "topic_suffix": "",
    }
    return TestContext(
        kafka_url, test_name=request.node.name, settings=settings, record=lambda k, v: None
    )


async def test_send_to_topic_deleted_elsewhere(ctx: TestContext) -> None:
    async with ctx.broker() as broker:
        topic = await ctx.topic(broker, partitions=2)
        async with broker.producer() as producer:
            await producer.send(topic, b"before")
            await delete_elsewhere(ctx, topic)
            took = await fails_with_topic_not_found(
                producer.send(topic, b"after"), "send after the delete", within=PROMPT
            )
            print(f"send to the deleted topic raised TopicNotFound after {took:.2f}s")
            await fails_with_topic_not_found(
                producer.send(topic, b"again"), "second send", within=PROMPT
            )
            await fails_with_topic_not_found(
                producer.send_batch(topic, [anymq.Message(b"b1"), anymq.Message(b"b2")]),
                "send_batch after the delete",
                within=PROMPT,
            )
        assert topic not in await broker.list_topics(), "a send created the topic again"


async def test_send_batch_to_topic_deleted_elsewhere(ctx: TestContext) -> None:
    async with ctx.broker() as broker:
        topic = await ctx.topic(broker, partitions=3)
        async with broker.producer() as producer:
            await producer.send_batch(topic, [anymq.Message(b"%d" % i) for i in range(10)])
            await delete_elsewhere(ctx, topic)
            await fails_with_topic_not_found(
                producer.send_batch(topic, [anymq.Message(b"%d" % i) for i in range(10)]),
                "send_batch after the delete",
                within=PROMPT,
            )


async def test_new_producer_on_a_stale_connection(ctx: TestContext) -> None:
    """The connection cached the topic (create_topic, an earlier producer); a producer made
    after another client deleted it must not trust that cache."""
    async with ctx.broker() as broker:
        topic = await ctx.topic(broker)
        async with broker.producer() as producer:
            await producer.send(topic, b"before")
        await delete_elsewhere(ctx, topic)
        async with broker.producer() as producer:
            await fails_with_topic_not_found(
                producer.send(topic, b"after"), "first send of a new producer", within=PROMPT
            )


async def test_concurrent_sends_to_topic_deleted_elsewhere(ctx: TestContext) -> None:
    async with ctx.broker() as broker:
        topic = await ctx.topic(broker, partitions=2)
        async with broker.producer(linger=0.05) as producer:
            await producer.send(topic, b"before")
            await delete_elsewhere(ctx, topic)
            started = time.monotonic()
            results = await asyncio.gather(
                *(producer.send(topic, b"%d" % i) for i in range(50)), return_exceptions=True
            )
            took = time.monotonic() - started
        assert all(isinstance(r, anymq.TopicNotFound) for r in results), {
            type(r).__name__ for r in results
        }
        assert took < PROMPT, f"50 concurrent sends took {took:.1f}s to fail"


@pytest.mark.parametrize("grouped", [True, False], ids=["group", "no-group"])
async def test_live_consumer_of_topic_deleted_elsewhere(ctx: TestContext, grouped: bool) -> None:
    async with ctx.broker() as broker:
        topic = await ctx.topic(broker, partitions=2)
        group = ctx.group() if grouped else None
        async with broker.consumer(topic, group) as consumer:
            took = await waiting_consumer_fails(ctx, broker, consumer, topic)
            print(f"live consumer raised TopicNotFound after {took:.2f}s")
            with pytest.raises(anymq.TopicNotFound):
                await consumer.receive(timeout=0)
        # leaving the block closed the consumer without hanging on the deleted partitions


async def test_idle_group_member_of_topic_deleted_elsewhere(
    ctx: TestContext, caplog: pytest.LogCaptureFixture
) -> None:
    """A member without partitions fetches nothing; its periodic metadata refresh finds it.

    The rebalance the delete starts may call back into a member that is closing: that used
    to fail in aiokafka's listener (AttributeError: 'NoneType' object has no attribute
    'pause', logged at ERROR by aiokafka's group coordinator)."""
    caplog.set_level(logging.WARNING)
    async with ctx.broker() as broker:
        topic = await ctx.topic(broker, partitions=2)
        group = ctx.group()
        async with broker.consumer(topic, group) as first, broker.consumer(topic, group) as second:
            waiting = [asyncio.ensure_future(anext(c)) for c in (first, second)]
            await asyncio.sleep(0.5)
            await delete_elsewhere(ctx, topic)
            for task, name in zip(waiting, ("first", "second"), strict=True):
                await fails_with_topic_not_found(task, f"{name} member after the delete")
    failed = [r.getMessage() for r in caplog.records if "failed on partition" in r.getMessage()]
    assert not failed, failed


async def test_topic_created_again_after_delete(ctx: TestContext) -> None:
    """Noticing the delete must not poison the name: once another client creates the topic
    again, the same producer sends to it and consumers read it."""
    async with ctx.broker() as broker:
        topic = await ctx.topic(broker, partitions=2)
        async with broker.producer() as producer:
            await producer.send(topic, b"before")
            await delete_elsewhere(ctx, topic)
            await fails_with_topic_not_found(
                producer.send(topic, b"lost"), "send after the delete", within=PROMPT
            )
            async with ctx.broker() as other:
                await other.create_topic(topic, partitions=3)
            async with broker.consumer(topic, ctx.group(), start="earliest") as consumer:
                receipt = await producer.send(topic, b"again", partition=2)
                assert receipt.partition == 2
                got = await ctx.collect(consumer, 1)
        assert [m.value for m in got] == [b"again"]
