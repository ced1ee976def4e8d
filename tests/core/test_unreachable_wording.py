"""An unreachable broker's error states time truthfully: "within N s" only when N seconds
did pass. A refused connection (a closed port) fails at once and must not claim a timeout:
Kafka said "cannot connect ... within 10s" after 0.5 s (issue 14)."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

import anymq

CLOSED = {
    "kafka": "kafka://127.0.0.1:1",
    "rabbitmq": "amqp://guest:guest@127.0.0.1:1/",
    "sqs": "sqs://127.0.0.1:1?endpoint_url=http://127.0.0.1:1&region=us-east-1",
}
FAST = 8.0
"""A refused connection fails well within this (SQS retries twice, about 3 s in all)."""


async def _work(url: str, work: str) -> None:
    async with anymq.connect(url) as broker:
        if work == "send":
            async with broker.producer() as producer:
                await producer.send("anymq-closed-port", b"x")
        else:
            await broker.list_topics()


async def _fail(url: str, work: str) -> tuple[anymq.BrokerUnavailable, float]:
    started = time.monotonic()
    with pytest.raises(anymq.BrokerUnavailable) as info:
        await _work(url, work)
    return info.value, time.monotonic() - started


@pytest.mark.parametrize("work", ["send", "list_topics"])
@pytest.mark.parametrize("backend", sorted(CLOSED))
def test_a_refused_connection_fails_fast_and_claims_no_timeout(backend: str, work: str) -> None:
    pytest.importorskip(
        {"kafka": "aiokafka", "rabbitmq": "aio_pika", "sqs": "aiobotocore"}[backend]
    )
    error, elapsed = asyncio.run(_fail(CLOSED[backend], work))
    text = str(error)
    assert elapsed < FAST, f"a refused connection took {elapsed:.2f}s to fail: {text}"
    claimed = re.search(r"within (\d+(?:\.\d+)?) ?s\b", text)
    assert claimed is None, f"failed after {elapsed:.2f}s but says a time limit ran out: {text}"
