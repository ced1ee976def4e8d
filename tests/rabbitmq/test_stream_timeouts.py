"""Stream-mode steps that run out of ``publish_timeout`` raise BrokerUnavailable.

A marker scan (describe_group, seek, a group's 'latest' start) and a seek handed to the
group's pump each wait within ``publish_timeout``; running out of it used to raise a raw
``TimeoutError`` that callers such as describe_group and seek passed on unmapped. These
tests make that happen on a real broker (a scan given no time, a pump that stopped
serving) without restarting it.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest

import anymq
from anymq_rabbitmq.driver import RabbitBroker
from anymq_rabbitmq.naming import Names
from anymq_rabbitmq.streamgroup import StreamGroupConsumer
from anymq_rabbitmq.streams import scan
from tests.rabbitmq.helpers import with_query

pytestmark = [pytest.mark.rabbitmq, pytest.mark.anymq]


async def test_a_scan_out_of_time_is_broker_unavailable(rabbitmq_url: str) -> None:
    async with anymq.connect(with_query(rabbitmq_url, mode="stream")) as broker:
        driver = broker.driver
        assert isinstance(driver, RabbitBroker)
        topic = f"anymq-rmq-scan-{uuid.uuid4().hex[:8]}"
        await broker.create_topic(topic)
        try:
            stream = Names.stream(topic)
            assert await scan(driver.stream_amqp, stream, "next", None, 30.0) >= 0
            with pytest.raises(anymq.BrokerUnavailable) as info:
                await scan(driver.stream_amqp, stream, "next", None, 0.0)
            assert stream in str(info.value)
            assert "did not come back" in str(info.value)
        finally:
            await broker.delete_topic(topic)


async def test_a_seek_the_pump_does_not_serve_is_broker_unavailable(rabbitmq_url: str) -> None:
    url = with_query(rabbitmq_url, mode="stream", publish_timeout="1")
    async with anymq.connect(url) as broker:
        topic = f"anymq-rmq-seekpump-{uuid.uuid4().hex[:8]}"
        await broker.create_topic(topic)
        try:
            async with broker.consumer(topic, "g", start="earliest") as consumer:
                member = consumer.driver.inner  # type: ignore[attr-defined]
                assert isinstance(member, StreamGroupConsumer)
                for _ in range(100):
                    if member.leading and member.pump is not None:
                        break
                    await asyncio.sleep(0.05)
                assert member.leading, "the only member did not take the pump"
                # The pump stops serving (as when its task is stuck) while still holding
                # the group: the seek gets no answer within publish_timeout.
                for task in (member._contender, member._pump_task):
                    assert task is not None
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task
                with pytest.raises(anymq.BrokerUnavailable) as info:
                    await consumer.seek("earliest")
                assert "did not move the group within 1s" in str(info.value)
        finally:
            await broker.delete_topic(topic)
