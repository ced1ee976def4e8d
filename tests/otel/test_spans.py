"""Spans on memory://: what the send, receive and process spans carry, how failures and
custom contexts show, and that tracing never makes a valid send fail."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from opentelemetry import baggage, context, trace
from opentelemetry.trace import SpanKind, StatusCode, TraceFlags, TraceState

import anymq
import anymq.otel
from tests.otel.conftest import Recorded
from tests.runtime.helpers import until

pytestmark = pytest.mark.anymq


def _space() -> str:
    return f"memory://otel-{uuid.uuid4().hex[:8]}"


def _ids(ctx: trace.SpanContext) -> tuple[int, int]:
    return ctx.trace_id, ctx.span_id


async def test_a_plain_consumer_gets_a_receive_span_linked_to_the_send(otel: Recorded) -> None:
    async with anymq.connect(_space()) as broker:
        await broker.create_topic("orders", partitions=2)
        async with broker.consumer("orders", "billing") as consumer:
            async with broker.producer() as producer:
                receipt = await producer.send("orders", b"x", key=b"k", headers={"a": "1"})
            [msg] = await consumer.receive(10, timeout=5)
    send = otel.span("send orders")
    receive = otel.span("receive orders")
    assert send.kind is SpanKind.PRODUCER
    assert receive.kind is SpanKind.CLIENT
    assert receive.parent is None  # a receive span links, it does not continue the trace
    assert [_ids(link.context) for link in receive.links] == [_ids(send.context)]
    assert dict(send.attributes or {}) == {
        "messaging.system": "anymq-memory",
        "messaging.destination.name": "orders",
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "messaging.destination.partition.id": str(receipt.partition),
        "anymq.message.offset": receipt.offset,
    }
    attributes = dict(receive.attributes or {})
    assert attributes["messaging.consumer.group.name"] == "billing"
    assert attributes["messaging.operation.type"] == "receive"
    assert attributes["messaging.destination.partition.id"] == str(msg.partition)
    assert attributes["anymq.message.delivery_count"] == 1
    assert msg.headers["a"] == b"1", "the user's headers are kept beside the trace context"
    _version, trace_id, span_id, _flags = msg.headers["traceparent"].decode().split("-")
    assert (int(trace_id, 16), int(span_id, 16)) == _ids(send.context)


async def test_process_around_own_handling_continues_the_trace(otel: Recorded) -> None:
    async with anymq.connect(_space()) as broker:
        await broker.create_topic("in")
        await broker.create_topic("out")
        async with broker.consumer("in", "g") as consumer, broker.producer() as producer:
            await producer.send("in", b"x")
            [msg] = await consumer.receive(1, timeout=5)
            with anymq.otel.process(msg):
                await producer.send("out", b"y")
            with pytest.raises(RuntimeError), anymq.otel.process(msg):
                raise RuntimeError("boom")
    first, failed = otel.spans("process in")
    assert first.parent is not None
    assert first.parent.span_id == otel.span("send in").context.span_id
    assert otel.span("send out").parent.span_id == first.context.span_id  # type: ignore[union-attr]
    assert failed.status.status_code is StatusCode.ERROR
    assert (failed.attributes or {})["error.type"] == "RuntimeError"


async def test_a_failed_handler_marks_its_span_and_the_retry_continues_the_trace(
    otel: Recorded,
) -> None:
    url = _space()
    app = anymq.App(url)
    calls = 0

    @app.handler("orders", group="billing")
    async def bill(order: dict[str, Any]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ValueError("payment service down")

    async with anymq.connect(url) as broker:
        await broker.create_topic("orders")
    async with app:
        async with app.broker.producer(serializer="json") as producer:
            await producer.send("orders", {"id": 1})
        await until(lambda: len(otel.spans("process orders")) == 2, "the retry")
    send = otel.span("send orders")
    failed, retried = otel.spans("process orders")
    assert failed.status.status_code is StatusCode.ERROR
    assert (
        dict(failed.attributes or {}).items()
        >= {
            "error.type": "ValueError",
            "anymq.settle.outcome": "retry",
            "anymq.message.delivery_count": 1,
        }.items()
    )
    assert [e.name for e in failed.events] == ["exception"]
    assert retried.status.status_code is StatusCode.UNSET
    assert (
        dict(retried.attributes or {}).items()
        >= {
            "anymq.settle.outcome": "ack",
            "anymq.message.delivery_count": 2,
        }.items()
    )
    for span in (failed, retried):
        assert span.parent is not None
        assert span.parent.span_id == send.context.span_id


async def test_an_undecodable_message_is_dead_lettered_with_its_error_on_the_span(
    otel: Recorded,
) -> None:
    url = _space()
    app = anymq.App(url)

    @app.handler("orders", group="billing")
    async def bill(order: dict[str, Any]) -> None:
        raise AssertionError("never called")

    async with anymq.connect(url) as broker:
        await broker.create_topic("orders")
    async with app:
        async with app.broker.producer() as producer:
            await producer.send("orders", b"{not json")
        await until(lambda: bool(otel.spans("process orders")), "the process span")
    span = otel.span("process orders")
    attributes = dict(span.attributes or {})
    assert attributes["anymq.settle.outcome"] == "dead_letter"
    assert attributes["error.type"] == "anymq.errors.SerializationError"
    assert span.status.status_code is StatusCode.ERROR
    assert otel.total("anymq.client.dead_lettered.messages") == 1
    assert otel.total("anymq.client.acked.messages") == 0


async def test_baggage_and_tracestate_travel_with_the_message(otel: Recorded) -> None:
    url = _space()
    app = anymq.App(url)
    seen: list[str | None] = []

    @app.handler("orders", group="billing", publish_to="invoices")
    async def bill(order: dict[str, Any]) -> dict[str, Any]:
        seen.append(str(baggage.get_baggage("tenant")))
        return order

    remote = trace.SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0xB7AD6B7169203331,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("vendor", "v1")]),
    )
    async with anymq.connect(url) as broker:
        await broker.create_topic("orders")
        await broker.create_topic("invoices")
    async with app, app.broker.consumer("invoices", "check") as invoices:
        ctx = baggage.set_baggage(
            "tenant", "acme", trace.set_span_in_context(trace.NonRecordingSpan(remote))
        )
        token = context.attach(ctx)
        try:
            async with app.broker.producer(serializer="json") as producer:
                await producer.send("orders", {"id": 1})
        finally:
            context.detach(token)
        [msg] = await invoices.receive(1, timeout=5)
    assert seen == ["acme"]
    assert msg.headers["baggage"] == b"tenant=acme"
    assert msg.headers["tracestate"] == b"vendor=v1"
    chain = [s for s in otel.spans() if not s.name.startswith("receive")]
    assert {s.context.trace_id for s in chain} == {remote.trace_id}
    assert otel.span("send orders").parent.span_id == remote.span_id  # type: ignore[union-attr]


async def test_a_traceparent_set_by_the_caller_is_kept_and_linked(otel: Recorded) -> None:
    mine = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    async with anymq.connect(_space()) as broker:
        await broker.create_topic("orders")
        async with broker.consumer("orders", "g") as consumer, broker.producer() as producer:
            await producer.send("orders", b"x", headers={"traceparent": mine})
            await producer.send_batch(
                "orders", [anymq.Message(b"y", headers={"traceparent": mine})]
            )
            got = await consumer.receive(2, timeout=5)
    assert [m.headers["traceparent"].decode() for m in got] == [mine, mine]
    for span in otel.spans("send orders"):
        assert [_ids(link.context) for link in span.links] == [
            (0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331)
        ]


async def test_a_batch_is_one_send_span_whose_context_every_message_carries(
    otel: Recorded,
) -> None:
    async with anymq.connect(_space()) as broker:
        await broker.create_topic("orders")
        async with broker.consumer("orders", "g") as consumer, broker.producer() as producer:
            await producer.send_batch("orders", [b"a", anymq.Message(b"b", headers={"h": "v"})])
            got = await consumer.receive(2, timeout=5)
    send = otel.span("send orders")
    assert (send.attributes or {})["messaging.batch.message_count"] == 2
    parents = {m.headers["traceparent"].decode().split("-")[2] for m in got}
    assert parents == {f"{send.context.span_id:016x}"}
    assert (otel.span("receive orders").attributes or {})["messaging.batch.message_count"] == 2


async def test_tracing_never_makes_a_valid_send_fail(otel: Recorded) -> None:
    async with anymq.connect(_space()) as broker:
        await broker.create_topic("orders")
        limit = broker.capabilities.max_message_bytes
        async with broker.consumer("orders", "g") as consumer, broker.producer() as producer:
            await producer.send("orders", b"x" * limit)  # no room left for a traceparent
            [msg] = await consumer.receive(1, timeout=5)
            with pytest.raises(anymq.MessageTooLarge):
                await producer.send("orders", b"x" * (limit + 1))
    assert len(msg.body) == limit
    assert "traceparent" not in msg.headers
    ok, refused = otel.spans("send orders")
    assert ok.status.status_code is StatusCode.UNSET
    assert (refused.attributes or {})["error.type"] == "anymq.errors.MessageTooLarge"
    assert (
        otel.total("messaging.client.sent.messages", error__type="anymq.errors.MessageTooLarge")
        == 1
    )


async def test_a_handler_that_sends_json_gets_a_child_span(otel: Recorded) -> None:
    """What the handler sends itself (not only publish_to) is a child of its span."""
    url = _space()
    app = anymq.App(url)

    @app.handler("orders", group="billing")
    async def bill(order: dict[str, Any]) -> None:
        async with app.broker.producer() as producer:
            await producer.send("audit", json.dumps(order).encode())

    async with anymq.connect(url) as broker:
        await broker.create_topic("orders")
        await broker.create_topic("audit")
    async with app:
        async with app.broker.producer(serializer="json") as producer:
            await producer.send("orders", {"id": 1})
        await until(lambda: bool(otel.spans("process orders")), "the process span")
    process = otel.span("process orders")
    assert otel.span("send audit").parent.span_id == process.context.span_id  # type: ignore[union-attr]
