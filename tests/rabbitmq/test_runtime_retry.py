"""anymq.App retries on RabbitMQ with ``queue_type=classic`` (classic queues: no dead
letters): a limited retry policy is refused at start (its last failure would be lost), an
unlimited one runs and retries until the handler succeeds."""

from __future__ import annotations

import asyncio
import uuid

import pytest

import anymq
from anymq.message import Received
from tests.rabbitmq.helpers import with_query
from tests.runtime.helpers import until

pytestmark = [pytest.mark.rabbitmq, pytest.mark.anymq]


async def test_unlimited_retries_run_on_classic_queues_and_limited_ones_are_refused(
    rabbitmq_url: str,
) -> None:
    url = with_query(rabbitmq_url, queue_type="classic")
    topic = f"anymq-rmq-retry-{uuid.uuid4().hex[:8]}"
    backoff = anymq.Backoff(initial=0.05, max=0.05)
    async with anymq.connect(url) as broker:
        assert anymq.Feature.DEAD_LETTER not in broker.capabilities
        await broker.create_topic(topic)
    try:
        limited = anymq.App(url)

        @limited.handler(topic, group="g", serializer=None, on_poison="reject", retry=backoff)
        async def never(body: bytes) -> None: ...

        with pytest.raises(anymq.UnsupportedFeature, match=r"after max_deliveries"):
            await limited.start()

        attempts: list[int] = []
        app = anymq.App(url)

        @app.handler(
            topic,
            group="g",
            serializer=None,
            on_poison="reject",
            retry=backoff,
            max_deliveries=anymq.UNLIMITED,
        )
        async def flaky(body: bytes, msg: Received) -> None:
            attempts.append(msg.delivery_count)
            if len(attempts) < 7:
                raise TimeoutError("the service is down")

        async with app:
            async with app.broker.producer() as producer:
                await producer.send(topic, b"v", key=b"k")
            await until(lambda: len(attempts) >= 7, "seven attempts")
            await asyncio.sleep(0.2)
        assert attempts == [1, 2, 3, 4, 5, 6, 7]
    finally:
        async with anymq.connect(url) as broker:
            # the app has closed: an unacked message would be back in the queue
            info = await broker.describe_group(topic, "g")
            await broker.delete_topic(topic)
    assert info.backlog == 0, "the 7th attempt was not acked"
