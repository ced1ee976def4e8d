"""Dead-letter topics made up front as ordinary topics (create_topic, declared groups): dead
letters are published to them, so each group gets them; of the other kind than the topic
they serve (no SQS redrive possible) they work all the same, the consumer counting."""

from __future__ import annotations

import json

import pytest

import anymq
from tests.sqs.helpers import unique

pytestmark = [pytest.mark.sqs, pytest.mark.anymq]


async def _nack_until_dead(consumer: anymq.Consumer, limit: int) -> None:
    for attempt in range(1, limit + 1):
        [msg] = await consumer.receive(1, timeout=5)
        assert (msg.value, msg.delivery_count) == (b"poison", attempt)
        await msg.nack()
    assert await consumer.receive(1, timeout=1.5) == [], "the dead letter came back"


@pytest.mark.parametrize(("partitions", "dead_partitions"), [(3, 1), (1, 3)])
async def test_dead_letter_topic_of_the_other_kind(
    sqs_url: str, partitions: int, dead_partitions: int
) -> None:
    """A partitioned (FIFO) topic with a one-partition (standard) dead-letter topic, and the
    reverse: SQS cannot redrive across queue types; the dead letter arrives all the same,
    its partition kept where the dead-letter topic has one."""
    async with anymq.connect(sqs_url) as broker:
        topic, dlt = unique("kinds"), unique("kinds-dead")
        await broker.create_topic(topic, partitions=partitions, groups=["g"])
        await broker.create_topic(dlt, partitions=dead_partitions, groups=["audit"])
        try:
            fifo = [(await broker.describe_topic(t)).details["fifo"] for t in (topic, dlt)]
            assert fifo == [partitions > 1, dead_partitions > 1]
            async with broker.consumer(
                topic, "g", max_deliveries=2, dead_letter_topic=dlt
            ) as consumer:
                async with broker.producer() as producer:
                    sent = await producer.send(topic, b"poison", key=b"k", headers={"h": "v"})
                await _nack_until_dead(consumer, 2)
            async with broker.consumer(dlt, "audit") as audit:
                [letter] = await audit.receive(1, timeout=5)
                await letter.ack()
            assert (letter.value, letter.key, letter.headers["h"]) == (b"poison", b"k", b"v")
            assert letter.partition == sent.partition % dead_partitions
        finally:
            await broker.delete_topic(topic)
            await broker.delete_topic(dlt)


async def test_unsettled_past_the_limit_reaches_an_ordinary_dead_letter_topic(
    sqs_url: str,
) -> None:
    """No redrive policy points at an ordinary topic's queues (one an earlier consumer of
    the group set is removed): a message whose consumers died unsettled max_deliveries
    times is dead-lettered by the next consumer instead."""
    async with anymq.connect(sqs_url) as broker:
        topic, dlt = unique("crash"), unique("crash-dead")
        await broker.create_topic(topic, groups=["g"])
        await broker.create_topic(dlt, groups=["audit"])
        default = broker.driver.dead_letter_topic(topic, "g")
        try:
            async with broker.consumer(topic, "g", max_deliveries=2):
                pass  # the group queue redrives to anymq's own <topic>-DLT queue
            for attempt in (1, 2):
                async with broker.consumer(
                    topic, "g", max_deliveries=2, dead_letter_topic=dlt
                ) as consumer:
                    if attempt == 1:
                        async with broker.producer() as producer:
                            await producer.send(topic, b"crashy", headers={"h": "v"})
                    [msg] = await consumer.receive(1, timeout=5)
                    assert msg.delivery_count == attempt  # closed unsettled: it goes back
            async with broker.consumer(
                topic, "g", max_deliveries=2, dead_letter_topic=dlt
            ) as consumer:
                assert await consumer.receive(1, timeout=1.5) == []
            async with broker.consumer(dlt, "audit") as audit:
                got = await audit.receive(1, timeout=5)
                assert len(got) == 1, "the dead letter went elsewhere (a stale redrive policy)"
                [letter] = got
                await letter.ack()
            assert (letter.value, letter.headers["h"]) == (b"crashy", b"v")
            assert letter.headers["anymq-delivery-count"] == b"3"
            async with broker.driver.client("sqs") as sqs:  # type: ignore[attr-defined]
                urls = (await sqs.list_queues(QueueNamePrefix=topic)).get("QueueUrls", [])
                attrs = [
                    (await sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["All"]))[
                        "Attributes"
                    ]
                    for u in urls
                ]
            policies = [json.loads(a["RedrivePolicy"]) for a in attrs if "RedrivePolicy" in a]
            assert policies == [], f"a redrive policy bypasses the groups: {policies}"
        finally:
            await broker.delete_topic(topic)
            await broker.delete_topic(dlt)
            await broker.delete_topic(default)
