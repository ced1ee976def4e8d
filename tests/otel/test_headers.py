"""The trace context survives every backend's header mapping: Kafka headers, AMQP headers
(classic queues and streams), SQS message attributes (also past SQS's 10, where anymq
packs the rest) through SNS or straight to the queue, and FIFO queues."""

from __future__ import annotations

import uuid

import pytest

import anymq
from tests.otel.conftest import Recorded

VARIANTS = [
    pytest.param("kafka", "", marks=pytest.mark.kafka, id="kafka"),
    pytest.param("rabbitmq", "", marks=pytest.mark.rabbitmq, id="rabbitmq-classic"),
    pytest.param("rabbitmq", "mode=stream", marks=pytest.mark.rabbitmq, id="rabbitmq-stream"),
    pytest.param("sqs", "", marks=pytest.mark.sqs, id="sqs-sns"),
    pytest.param("sqs", "mode=queue", marks=pytest.mark.sqs, id="sqs-queue"),
    pytest.param("sqs", "fifo=true", marks=pytest.mark.sqs, id="sqs-fifo"),
]


@pytest.mark.anymq(timeout=60)
@pytest.mark.parametrize(("kind", "query"), VARIANTS)
async def test_the_trace_context_passes_beside_ten_user_headers(
    otel: Recorded, request: pytest.FixtureRequest, kind: str, query: str
) -> None:
    url = str(request.getfixturevalue(f"{kind}_url"))
    if query:
        url += ("&" if "?" in url else "?") + query
    topic = f"otel-h-{uuid.uuid4().hex[:8]}"
    headers = {f"h{i}": f"v{i}" for i in range(10)}
    async with anymq.connect(url) as broker:
        await broker.create_topic(topic)
        try:
            async with broker.consumer(topic, "g") as consumer, broker.producer() as producer:
                await producer.send(topic, b"x", key=b"k", headers=headers)
                got = []
                for _ in range(20):
                    got += await consumer.receive(1, timeout=1)
                    if got:
                        break
        finally:
            await broker.delete_topic(topic)
    [msg] = got
    send = otel.span(f"send {topic}")
    ctx = send.context
    expected = f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{ctx.trace_flags:02x}"
    assert msg.headers["traceparent"].decode() == expected
    assert {k: v.decode() for k, v in msg.headers.items() if k.startswith("h")} == headers
    assert msg.key == b"k"
    receive = otel.span(f"receive {topic}")
    assert [link.context.span_id for link in receive.links] == [send.context.span_id]
