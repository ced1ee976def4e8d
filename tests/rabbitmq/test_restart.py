"""A RabbitMQ server restart while a producer sends with confirms and a group consumes.

Every message whose send returned (confirmed by RabbitMQ) must be consumed after the
restart: durable exchange, quorum queues (and streams) and persistent messages survive,
the robust connection comes back, the consumer resumes. Sends that fail during the outage
are retried by the test, so duplicates are possible and reported, never lost messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

import pytest

import anymq
from anymq.testing.ledger import Ledger
from tests.rabbitmq.helpers import restart_server, with_query

pytestmark = [pytest.mark.rabbitmq, pytest.mark.anymq, pytest.mark.slow]

COUNT = 1500


@pytest.mark.parametrize("mode", ["classic", "stream"])
async def test_restart_loses_no_confirmed_message(
    rabbitmq_url: str, mode: str, record_property: object
) -> None:
    url = with_query(rabbitmq_url, mode=mode, publish_timeout="90")
    topic = f"anymq-rmq-restart-{uuid.uuid4().hex[:8]}"
    group = "survivors"
    ledger = Ledger()
    retries = 0
    restart_at = asyncio.Event()
    restart_seconds: list[float] = []
    async with anymq.connect(url) as broker:
        await broker.create_topic(topic)
        try:
            async with broker.consumer(topic, group, prefetch=50) as consumer:
                stop = asyncio.Event()
                produced = asyncio.Event()
                complete = asyncio.Event()

                async def produce() -> None:
                    nonlocal retries
                    async with broker.producer() as producer:
                        for i in range(COUNT):
                            value = b"m%05d" % i
                            while True:
                                try:
                                    await producer.send(topic, value)
                                    break
                                except (anymq.BrokerUnavailable, anymq.PublishError):
                                    retries += 1  # not confirmed: send it again
                                    await asyncio.sleep(0.2)
                            ledger.expect(value)
                            if i == COUNT // 3:
                                restart_at.set()

                async def restart() -> None:
                    await restart_at.wait()
                    restart_seconds.append(await restart_server(rabbitmq_url))

                async def consume() -> None:
                    while not stop.is_set():
                        for msg in await consumer.receive(max_messages=200, timeout=0.2):
                            ledger.record(msg.value)
                            await msg.ack()
                        if produced.is_set() and not ledger.lost:
                            complete.set()

                reader = asyncio.create_task(consume())
                started = time.monotonic()
                await asyncio.gather(produce(), restart())
                produced.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(complete.wait(), 60)
                stop.set()
                await reader
                elapsed = time.monotonic() - started
        finally:
            await broker.delete_topic(topic)
    summary = ledger.summary()
    print(
        f"{mode}: {summary}, send retries={retries}, restart took "
        f"{restart_seconds[0] if restart_seconds else float('nan'):.1f}s, run {elapsed:.1f}s"
    )
    assert restart_seconds, "the server was not restarted"
    ledger.assert_complete(exactly_once=False)
