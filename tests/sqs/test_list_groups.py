"""``list_groups`` on SQS where the SNS subscriptions do not name the groups: mode=queue
(the group that claimed the topic's queue) and anymq's own dead-letter topics (refused)."""

from __future__ import annotations

import pytest

import anymq
from tests.sqs.helpers import unique, with_options

pytestmark = [pytest.mark.sqs, pytest.mark.anymq]


async def test_queue_mode_lists_the_group_that_claimed_the_queue(sqs_url: str) -> None:
    async with anymq.connect(with_options(sqs_url, mode="queue")) as broker:
        topic = unique("lgq")
        await broker.create_topic(topic)
        try:
            assert await broker.list_groups(topic) == []  # nobody claimed it yet
            async with broker.consumer(topic, "workers"):
                pass
            assert await broker.list_groups(topic) == ["workers"]
        finally:
            await broker.delete_topic(topic)


async def test_dead_letter_topic_groups_cannot_be_listed(sqs_url: str) -> None:
    """Every group of anymq's dead-letter topic reads its one queue: no queue names a group,
    so list_groups says so instead of answering []."""
    async with anymq.connect(sqs_url) as broker:
        topic = unique("lgd")
        await broker.create_topic(topic)
        dlt = broker.driver.dead_letter_topic(topic, "g")
        try:
            async with broker.consumer(topic, "g", max_deliveries=2):
                pass  # makes the dead-letter topic
            with pytest.raises(anymq.UnsupportedFeature) as refused:
                await broker.list_groups(dlt)
            assert refused.value.feature == "list_groups"
            assert "dead-letter" in str(refused.value)
        finally:
            await broker.delete_topic(topic)
            await broker.delete_topic(dlt)
