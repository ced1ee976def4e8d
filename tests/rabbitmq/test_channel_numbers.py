"""Channel numbers: a channel the server just closed is never reused before its Close-Ok.

aiormq frees a channel's number as soon as the server's Channel.Close arrives, before the
Close-Ok is queued, and hands out "highest open + 1". A channel opened in that gap (any
concurrent admin step, e.g. the passive checks of sends racing a 404) writes Channel.Open
for a number RabbitMQ still holds: the server answers with a connection-level 504
"second 'channel.open' seen" and closes the whole connection, and with it every consumer
channel of the Broker. anymq picks the numbers itself, in turn, so the freed number is
the last one to come back.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import aiormq.exceptions as amqp_errors
import pytest

import anymq

pytestmark = [pytest.mark.rabbitmq, pytest.mark.anymq]

BURST = 40


async def _missing_exchange(channel: Any) -> None:
    """A passive declare of a missing exchange: the server closes the channel (404)."""
    name = f"anymq-missing-{uuid.uuid4().hex[:8]}"
    # plain aiormq, or aio-pika
    declare = getattr(channel, "exchange_declare", None) or channel.declare_exchange
    with pytest.raises(amqp_errors.ChannelNotFoundEntity):
        await declare(name, passive=True)


async def test_no_close_ok_is_dropped_when_the_server_closes_many_channels(
    rabbitmq_url: str,
) -> None:
    """40 channels closed by the server at once (40 concurrent 404s), then their numbers
    opened again: every Close-Ok reached the server, so the connection stays up."""
    async with anymq.connect(rabbitmq_url) as broker:
        amqp: Any = broker.driver.amqp  # type: ignore[attr-defined]
        connection = amqp.conn.transport.connection
        for _ in range(3):
            channels = [await amqp.raw_channel() for _ in range(BURST)]
            numbers = [c.number for c in channels]
            await asyncio.gather(*(_missing_exchange(c) for c in channels))
            await asyncio.sleep(0.2)  # every Close-Ok written (or dropped)
            reopened = [await connection.channel(channel_number=n) for n in numbers]
            await asyncio.gather(*(c.close() for c in reopened))
            assert not connection.is_closed
        assert amqp.conn.transport.connection is connection, "the connection was replaced"


async def test_robust_channels_keep_their_number_and_raw_ones_skip_it(rabbitmq_url: str) -> None:
    async with anymq.connect(rabbitmq_url) as broker:
        amqp: Any = broker.driver.amqp  # type: ignore[attr-defined]
        robust = await amqp.robust_channel(confirms=True)
        number = robust.number
        try:
            seen = set()
            for _ in range(5):
                async with amqp.admin() as channel:
                    seen.add(channel.number)
            assert number not in seen
            assert len(seen) == 5, "consecutive admin channels reused a number"
            # The server closes the robust channel; aio-pika reopens it under its number.
            await _missing_exchange(robust)
            async with asyncio.timeout(10):  # aio-pika reopens it in a callback: poll
                while robust.is_closed:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
            assert robust.number == number
            await robust.declare_exchange("amq.direct", passive=True)  # usable again
        finally:
            await robust.close()
