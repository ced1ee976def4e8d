"""Group queues on a real server: look-alike topic/group pairs keep their own messages, and a
group queue recorded under another topic is refused instead of silently consumed.

Issue 11 (item 2): topic ``X`` with group ``orders.billing`` and topic ``X.orders`` with group
``billing`` both mapped to the queue ``X.orders.billing``; the second subscription skipped its
binding, so one topic's messages were all dropped and its consumer got the other topic's.
"""

from __future__ import annotations

import contextlib
import uuid

import aiormq
import pytest

import anymq
from anymq.client import Consumer
from anymq.message import Received
from tests.rabbitmq.helpers import queue_exists, raw_channel, with_query

pytestmark = [pytest.mark.rabbitmq, pytest.mark.anymq]

MODES = ("classic", "stream")


def _url(url: str, mode: str) -> str:
    return with_query(url, mode="stream") if mode == "stream" else url


async def _drain(consumer: Consumer, count: int) -> list[Received]:
    """Up to ``count`` messages within 15 s, then whatever else arrives within a second."""
    got: list[Received] = []
    for _ in range(15):
        got += await consumer.receive(count, 1.0)
        if len(got) >= count:
            break
    got += await consumer.receive(100, 1.0)
    for msg in got:
        await msg.ack()
    return got


@pytest.mark.parametrize("mode", MODES)
async def test_colliding_topic_group_pairs_each_get_their_own_messages(
    rabbitmq_url: str, mode: str
) -> None:
    x = f"anymq-rmq-naming-{uuid.uuid4().hex[:8]}"
    pairs = [(x, "orders.billing"), (f"{x}.orders", "billing")]
    async with anymq.connect(_url(rabbitmq_url, mode)) as broker:
        for topic, _ in pairs:
            await broker.create_topic(topic)
        try:
            async with (
                broker.consumer(*pairs[0]) as first,
                broker.consumer(*pairs[1]) as second,
                broker.producer() as producer,
            ):
                for topic, _ in pairs:
                    for i in range(3):
                        await producer.send(topic, f"{topic}#{i}".encode())
                for (topic, group), consumer in zip(pairs, (first, second), strict=True):
                    got = sorted((m.topic, m.value.decode()) for m in await _drain(consumer, 3))
                    assert got == [(topic, f"{topic}#{i}") for i in range(3)], (topic, group)
            queues = [(await broker.describe_topic(t)).details["queues"] for t, _ in pairs]
            assert queues[0] != queues[1]
        finally:
            for topic, _ in pairs:
                await broker.delete_topic(topic)


async def _legacy_queue(url: str, queue: str, exchange: str) -> None:
    """What an older anymq left: the quorum queue ``<topic>.<group>`` bound with ``#``."""
    async with raw_channel(url) as channel:
        await channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
        await channel.queue_bind(queue, exchange, routing_key="#")


async def test_a_legacy_group_queue_is_kept_and_not_shared(rabbitmq_url: str) -> None:
    """A group whose queue an older anymq named ``<topic>.<group>`` keeps it (and the
    messages in it); a look-alike pair that now maps to that name gets a clear error."""
    x = f"anymq-rmq-legacy-{uuid.uuid4().hex[:8]}"
    legacy = f"{x}.orders.billing"
    async with anymq.connect(rabbitmq_url) as broker:
        await broker.create_topic(x)
        await broker.create_topic(f"{x}.orders")
        try:
            await _legacy_queue(rabbitmq_url, legacy, x)
            async with broker.driver.registry.edit() as doc:  # type: ignore[attr-defined]
                doc["topics"][x]["groups"]["orders.billing"] = {
                    "queue": legacy,
                    "queue_type": "quorum",
                    "bindings": ["#"],
                    "max_deliveries": None,
                    "dead_letter_topic": None,
                }
            async with broker.producer() as producer:
                await producer.send(x, b"waiting in the legacy queue")
            async with broker.consumer(x, "orders.billing") as consumer:
                got = await _drain(consumer, 1)
                assert [m.value for m in got] == [b"waiting in the legacy queue"]
            with pytest.raises(anymq.ConfigError) as info:
                async with broker.consumer(f"{x}.orders", "billing"):
                    pass
            assert f"group 'orders.billing' of topic {x!r}" in str(info.value)
            assert (await broker.describe_topic(x)).details["queues"] == [legacy]
            await broker.delete_topic(x)
            assert not await queue_exists(rabbitmq_url, legacy)
        finally:
            for topic in (x, f"{x}.orders"):
                with contextlib.suppress(anymq.TopicNotFound):
                    await broker.delete_topic(topic)


async def test_an_existing_group_queue_is_bound_again(rabbitmq_url: str) -> None:
    """A group queue that exists but lost its binding (created elsewhere, a crash between
    declare and bind, the exchange re-created) is bound again when a member subscribes."""
    topic = f"anymq-rmq-rebind-{uuid.uuid4().hex[:8]}"
    async with anymq.connect(rabbitmq_url) as broker:
        await broker.create_topic(topic)
        try:
            async with broker.consumer(topic, "billing"):
                pass
            queue = (await broker.describe_topic(topic)).details["queues"][0]
            target = anymq.URL.parse(rabbitmq_url)
            connection = await aiormq.connect(
                f"amqp://{target.username or 'guest'}:{target.password or 'guest'}@"
                f"{target.host}:{target.port or 5672}/"
            )
            try:
                channel = await connection.channel()
                await channel.queue_unbind(queue, topic, routing_key="#")
            finally:
                await connection.close()
            async with (
                broker.consumer(topic, "billing") as consumer,
                broker.producer() as producer,
            ):
                await producer.send(topic, b"routed again")
                assert [m.value for m in await _drain(consumer, 1)] == [b"routed again"]
        finally:
            await broker.delete_topic(topic)
