"""``list_groups`` on RabbitMQ reads anymq's registry: AMQP cannot list the queues bound to
an exchange, so an exchange anymq did not create is refused, never answered with []."""

from __future__ import annotations

import uuid

import pytest

import anymq
from tests.rabbitmq.helpers import raw_channel

pytestmark = [pytest.mark.rabbitmq, pytest.mark.anymq]


async def test_an_exchange_anymq_did_not_create_is_refused(rabbitmq_url: str) -> None:
    exchange = f"foreign-{uuid.uuid4().hex[:8]}"
    async with raw_channel(rabbitmq_url) as channel:
        await channel.exchange_declare(exchange, exchange_type="topic", auto_delete=False)
    try:
        async with anymq.connect(rabbitmq_url) as broker:
            with pytest.raises(anymq.UnsupportedFeature) as refused:
                await broker.list_groups(exchange)
            assert refused.value.feature == "list_groups"
            assert "not created by anymq" in str(refused.value)
            with pytest.raises(anymq.TopicNotFound):
                await broker.list_groups(f"missing-{uuid.uuid4().hex[:8]}")
    finally:
        async with raw_channel(rabbitmq_url) as channel:
            await channel.exchange_delete(exchange)
