"""A group queue an older anymq declared with dead-letter arguments keeps working.

Older anymq declared a classic-mode group queue with ``x-delivery-limit`` and
``x-dead-letter-exchange`` taken from the first consumer's ``max_deliveries`` and
``dead_letter_topic``; a consumer asking other settings then met PRECONDITION_FAILED. Now
they are consumer settings (dead-lettered client-side) and an existing queue is used as it
is, so such a queue takes any consumer's settings: no error for users upgrading.
"""

from __future__ import annotations

import contextlib
import uuid

import pytest

import anymq
from anymq.deadletter import PREFIX
from anymq_rabbitmq.naming import Names
from tests.rabbitmq.helpers import raw_channel

pytestmark = [pytest.mark.rabbitmq, pytest.mark.anymq]


async def _old_queue(url: str, queue: str, topic: str, dlt: str) -> None:
    """The quorum queue an older anymq declared for ``max_deliveries=3`` and ``dlt``."""
    async with raw_channel(url) as channel:
        arguments = {
            "x-queue-type": "quorum",
            "x-delivery-limit": 2,
            "x-dead-letter-exchange": dlt,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }
        await channel.queue_declare(queue, durable=True, arguments=arguments)
        await channel.queue_bind(queue, topic, routing_key="#")


@pytest.mark.parametrize("recorded", [True, False], ids=["recorded", "unrecorded"])
async def test_a_queue_with_older_dead_letter_arguments_takes_any_consumer(
    rabbitmq_url: str, recorded: bool
) -> None:
    topic = f"anymq-rmq-olddlx-{uuid.uuid4().hex[:8]}"
    old_dlt, new_dlt = f"{topic}.DLT", f"{topic}.bad"
    async with anymq.connect(rabbitmq_url) as broker:
        for name in (topic, old_dlt, new_dlt):
            await broker.create_topic(name)
        try:
            queue = Names.group_queue(topic, "g")
            await _old_queue(rabbitmq_url, queue, topic, old_dlt)
            if recorded:  # what the registry of an older anymq says about it
                async with broker.driver.registry.edit() as doc:  # type: ignore[attr-defined]
                    doc["topics"][topic]["groups"]["g"] = {
                        "queue": queue,
                        "queue_type": "quorum",
                        "bindings": ["#"],
                        "max_deliveries": 3,
                        "dead_letter_topic": old_dlt,
                    }
            async with broker.producer() as producer:
                await producer.send(topic, b"waiting")
                async with broker.consumer(topic, "g") as plain:  # no settings
                    [msg] = await plain.receive(1, 10.0)
                    await msg.ack()
                assert msg.value == b"waiting", "the old queue's message was lost"
                async with (
                    broker.consumer(
                        topic, "g", max_deliveries=2, dead_letter_topic=new_dlt
                    ) as consumer,
                    broker.consumer(new_dlt, "dlq") as dead,
                ):
                    await producer.send(topic, b"poison", key=b"k", headers={"h": "v"})
                    counts = []
                    for _ in range(2):
                        [msg] = await consumer.receive(1, 10.0)
                        counts.append(msg.delivery_count)
                        await msg.nack()
                    [letter] = await dead.receive(1, 10.0)
                    await letter.ack()
            assert (await broker.describe_topic(topic)).details["queues"] == [queue]
        finally:
            for name in (topic, old_dlt, new_dlt):
                with contextlib.suppress(anymq.TopicNotFound):
                    await broker.delete_topic(name)
    assert counts == [1, 2]
    assert (letter.value, letter.key, letter.headers.get("h")) == (b"poison", b"k", b"v")
    assert letter.headers[PREFIX + "original-topic"] == topic.encode()
    assert letter.headers[PREFIX + "original-consumer-group"] == b"g"
    assert letter.headers["anymq-delivery-count"] == b"2"
