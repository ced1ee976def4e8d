"""One trace across brokers: produced on A, handled by an App, sent on to B from the
handler, handled there, re-published with ``publish_to`` and handled again.

Every hop's span is the child of the one before (send -> process -> send -> ...), so the
whole chain is one trace, on every pair of backends (each backend is a source and a
destination in some pair: the traceparent header survives Kafka headers, AMQP headers and
SQS message attributes through SNS).
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

import anymq
from anymq.client import Producer
from anymq.message import Received
from tests.otel.conftest import Recorded
from tests.runtime.helpers import until

SYSTEMS = {"memory": "anymq-memory", "kafka": "kafka", "rabbitmq": "rabbitmq", "sqs": "aws_sqs"}
SENDERS = {**SYSTEMS, "sqs": "aws.sns"}  # sqs:// sends through SNS unless mode=queue

PAIRS = [
    pytest.param("memory", "memory", id="memory-memory"),
    pytest.param("kafka", "sqs", marks=[pytest.mark.kafka, pytest.mark.sqs], id="kafka-sqs"),
    pytest.param(
        "rabbitmq", "kafka", marks=[pytest.mark.rabbitmq, pytest.mark.kafka], id="rabbitmq-kafka"
    ),
    pytest.param(
        "sqs", "rabbitmq", marks=[pytest.mark.sqs, pytest.mark.rabbitmq], id="sqs-rabbitmq"
    ),
    pytest.param("kafka", "kafka", marks=[pytest.mark.kafka], id="kafka-kafka"),
]


def _url(kind: str, request: pytest.FixtureRequest) -> str:
    if kind == "memory":
        return f"memory://otel-{uuid.uuid4().hex[:8]}"
    return str(request.getfixturevalue(f"{kind}_url"))


def _parent(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


@pytest.mark.anymq(timeout=120)
@pytest.mark.parametrize(("first", "second"), PAIRS)
async def test_a_message_handled_on_two_brokers_is_one_trace(
    otel: Recorded, request: pytest.FixtureRequest, first: str, second: str
) -> None:
    url_a, url_b = _url(first, request), _url(second, request)
    tag = uuid.uuid4().hex[:8]
    orders, bills, invoices, group = (f"otel-{n}-{tag}" for n in ("orders", "bills", "inv", "g"))
    async with anymq.connect(url_a) as broker:
        await broker.create_topic(orders)
    async with anymq.connect(url_b) as broker:
        await broker.create_topic(bills)
        await broker.create_topic(invoices)

    one = anymq.App(url_a)
    two = anymq.App(url_b)
    audited: list[Received] = []
    forward: list[Producer] = []  # the handler's producer on broker B

    @one.handler(orders, group=group, on_poison="reject")
    async def hop(order: dict[str, Any]) -> None:
        await forward[0].send(bills, order, key="c1")

    @two.handler(bills, group=group, publish_to=invoices, on_poison="reject")
    async def bill(order: dict[str, Any]) -> dict[str, Any]:
        return {"order": order["id"], "amount": 12}

    @two.handler(invoices, group=group, on_poison="reject")
    async def audit(invoice: dict[str, Any], msg: Received) -> None:
        audited.append(msg)

    try:
        async with two, one, two.broker.producer(serializer="json") as to_b:
            forward.append(to_b)
            async with one.broker.producer(serializer="json") as producer:
                await producer.send(orders, {"id": 7}, key="c1")
            await until(lambda: bool(otel.spans(f"process {invoices}")), "the last hop", 60)
    finally:
        async with anymq.connect(url_a) as broker:
            await broker.delete_topic(orders)
        async with anymq.connect(url_b) as broker:
            await broker.delete_topic(bills)
            await broker.delete_topic(invoices)

    chain = [
        otel.span(f"send {orders}"),
        otel.span(f"process {orders}"),
        otel.span(f"send {bills}"),
        otel.span(f"process {bills}"),
        otel.span(f"send {invoices}"),
        otel.span(f"process {invoices}"),
    ]
    root = chain[0]
    assert root.parent is None
    assert {s.context.trace_id for s in chain} == {root.context.trace_id}, "not one trace"
    for before, after in itertools.pairwise(chain):
        assert _parent(after) == before.context.span_id, f"{after.name} not under {before.name}"
    assert [s.kind for s in chain] == [SpanKind.PRODUCER, SpanKind.CONSUMER] * 3
    for send, process in zip(chain[::2], chain[1::2], strict=True):
        linked = [(link.context.trace_id, link.context.span_id) for link in process.links]
        assert linked == [(send.context.trace_id, send.context.span_id)]

    systems = [SENDERS[first], SYSTEMS[first], SENDERS[second], SYSTEMS[second]]
    systems += [SENDERS[second], SYSTEMS[second]]
    assert [s.attributes["messaging.system"] for s in chain] == systems  # type: ignore[index]
    destinations = [orders, orders, bills, bills, invoices, invoices]
    assert [s.attributes["messaging.destination.name"] for s in chain] == destinations  # type: ignore[index]
    for process in chain[1::2]:
        attributes = process.attributes or {}
        assert attributes["messaging.operation.type"] == "process"
        assert attributes["messaging.consumer.group.name"] == group
        assert attributes["anymq.message.delivery_count"] == 1
        assert attributes["anymq.settle.outcome"] == "ack"
    assert chain[1].attributes["code.function.name"].endswith("hop")  # type: ignore[index,union-attr]

    [last] = audited
    traceparent = last.headers["traceparent"].decode()
    assert traceparent.split("-")[1:3] == [
        f"{root.context.trace_id:032x}",
        f"{chain[4].context.span_id:016x}",
    ]
