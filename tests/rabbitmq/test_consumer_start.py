"""A RabbitMQ consumer whose start fails closes the channel it opened; prefetch is checked first.

RabbitMQ allows 2047 channels per connection by default, so a channel left open by every
failed start eventually breaks the whole connection. ``basic.qos`` carries the prefetch as
a 16-bit count: anything over 65,535 must be refused before a channel is opened.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

import anymq
from anymq.backend import ConsumerDriver, ConsumerOptions
from anymq.model import Position
from anymq_rabbitmq.consumer import QueueConsumer
from anymq_rabbitmq.driver import RabbitBroker
from anymq_rabbitmq.streamgroup import StreamBroadcastConsumer, StreamGroupConsumer
from tests.rabbitmq.helpers import with_query

pytestmark = [pytest.mark.rabbitmq, pytest.mark.anymq]

MODES = ["classic", "stream"]


def open_channels(broker: anymq.Broker) -> int:
    """Channels open on the broker's connections, as the client sees them."""
    driver = broker.driver
    assert isinstance(driver, RabbitBroker)
    count = 0
    for amqp in {id(a): a for a in (driver.amqp, driver.stream_amqp)}.values():
        assert amqp.conn is not None
        assert amqp.conn.transport is not None
        count += len(amqp.conn.transport.connection.channels)
    return count


@pytest.mark.parametrize("mode", MODES)
async def test_prefetch_over_65535_is_a_config_error_before_anything_opens(
    rabbitmq_url: str, mode: str
) -> None:
    async with anymq.connect(with_query(rabbitmq_url, mode=mode)) as broker:
        topic = f"anymq-rmq-prefetch-{uuid.uuid4().hex[:8]}"
        await broker.create_topic(topic)
        try:
            channels = open_channels(broker)
            for group in ("g", None):
                with pytest.raises(anymq.ConfigError) as info:
                    broker.consumer(topic, group, prefetch=65536)
                assert "65535" in str(info.value)
                assert "prefetch" in str(info.value)
            assert open_channels(broker) == channels
            assert broker._children == []
            async with broker.consumer(topic, "g", prefetch=65535):  # the limit itself works
                pass
        finally:
            await broker.delete_topic(topic)


@pytest.mark.parametrize("kind", ["group", "private", "stream-group", "stream-broadcast"])
async def test_consumer_whose_start_fails_closes_its_channel(rabbitmq_url: str, kind: str) -> None:
    """A start failing after its channel opened (basic.qos refuses a 17-bit prefetch here,
    bypassing the up-front check) leaves no channel open, however often it is tried."""
    mode = "stream" if kind.startswith("stream") else "classic"
    async with anymq.connect(with_query(rabbitmq_url, mode=mode)) as broker:
        driver = broker.driver
        assert isinstance(driver, RabbitBroker)
        topic = f"anymq-rmq-failstart-{uuid.uuid4().hex[:8]}"
        await broker.create_topic(topic)
        try:
            group = None if kind in ("private", "stream-broadcast") else "g"
            options = ConsumerOptions(
                topic=topic, group=group, start=Position.latest(), prefetch=70000
            )
            context = driver.context
            make: Callable[[], ConsumerDriver] = {
                "group": lambda: QueueConsumer(context, options),
                "private": lambda: QueueConsumer(context, options),
                "stream-group": lambda: StreamGroupConsumer(context, options, driver.pumps),
                "stream-broadcast": lambda: StreamBroadcastConsumer(context, options),
            }[kind]
            channels = open_channels(broker)
            for _ in range(5):
                consumer = make()
                with pytest.raises(Exception):  # noqa: B017 - any failure will do
                    await consumer.start()
            assert open_channels(broker) == channels, "failed starts left channels open"
        finally:
            await broker.delete_topic(topic)


@pytest.mark.parametrize("mode", MODES)
async def test_a_queue_in_exclusive_use_is_a_config_error(rabbitmq_url: str, mode: str) -> None:
    """A second member of a group whose (classic) queue another consumer holds with
    exclusive=true gets RabbitMQ's 403 as a ConfigError saying why, not a raw aiormq
    ChannelAccessRefused, and its start leaves no channel open (counted in classic mode: in
    stream mode the holder's pump opens channels of its own meanwhile)."""
    url = with_query(rabbitmq_url, mode=mode, queue_type="classic")
    topic = f"anymq-rmq-exclusive-{uuid.uuid4().hex[:8]}"
    async with anymq.connect(url) as broker:
        await broker.create_topic(topic)
        try:
            async with broker.consumer(topic, "solo", exclusive=True):
                before = open_channels(broker)
                with pytest.raises(anymq.ConfigError, match="exclusive"):
                    async with broker.consumer(topic, "solo"):
                        pass
                if mode == "classic":
                    assert open_channels(broker) == before
        finally:
            await broker.delete_topic(topic)
