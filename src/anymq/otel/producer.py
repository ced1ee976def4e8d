"""A producer that opens a ``send <topic>`` span per send and injects its context.

The span (kind PRODUCER) is the message's creation context: the global propagator writes
``traceparent`` / ``tracestate`` / ``baggage`` into the headers, which every backend
carries like any other header (Kafka headers, AMQP headers, SQS and SNS message
attributes, packed beyond SQS's 10). A message that already has a ``traceparent`` keeps it
(a custom creation context, left unchanged as the conventions say) and the span links to
it. Tracing never makes a valid send fail: if the injected headers would break a limit
(size, header count) the message is sent without them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Iterable, Mapping
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from anymq.client import Broker, Producer
from anymq.errors import ConfigError, MessageTooLarge
from anymq.features import Feature
from anymq.message import Headers, Message, Receipt
from anymq.otel import names, state
from anymq.otel.telemetry import GETTER, Attributes

_REFUSED = (MessageTooLarge, ConfigError)
"""What an injected header can newly cause; the send is retried without them."""


def _custom_context(headers: Headers | None) -> trace.SpanContext | None:
    """The creation context the caller put in ``headers`` itself, if any."""
    if not headers or not isinstance(headers, Mapping) or names.TRACEPARENT not in headers:
        return None
    raw = {k: v.encode() if isinstance(v, str) else bytes(v) for k, v in headers.items()}
    found = trace.get_current_span(propagate.extract(raw, getter=GETTER)).get_span_context()
    return found if found.is_valid else None


def _fail(span: Span, error: BaseException) -> None:
    kind = names.error_type(error)
    span.set_attribute(names.ERROR_TYPE, kind)
    span.record_exception(error)
    span.set_status(Status(StatusCode.ERROR, str(error)))
    span.end()


class TracedProducer(Producer):
    """:class:`~anymq.Producer` with a span per send (made by ``Broker.producer`` once
    :func:`anymq.otel.instrument` ran)."""

    def __init__(self, broker: Broker, *args: Any, **kwargs: Any) -> None:
        super().__init__(broker, *args, **kwargs)
        self._telemetry = state.current()
        caps = broker.capabilities
        to_sns = caps.backend == "sqs" and Feature.FAN_OUT in caps.features
        base: Attributes = {
            names.SYSTEM: names.system(caps.backend, sending_to_sns=to_sns),
            names.OPERATION_TYPE: "send",
            names.OPERATION_NAME: "send",
        }
        if broker.url.host and not caps.in_process:  # memory://<name> names no server
            base[names.SERVER_ADDRESS] = broker.url.host
            if broker.url.port is not None:
                base[names.SERVER_PORT] = broker.url.port
        self._base = base
        self._kafka = caps.backend == "kafka"
        self._by_topic: dict[str, Attributes] = {}

    def _attributes(self, topic: str) -> Attributes:
        found = self._by_topic.get(topic)
        if found is None:
            found = self._by_topic[topic] = {**self._base, names.DESTINATION: topic}
        return found

    def _start(self, topic: str, custom: list[trace.SpanContext], count: int = 1) -> Span:
        """The send span, linked to the creation contexts callers set themselves."""
        attributes = self._attributes(topic)
        if count != 1:
            attributes = {**attributes, names.BATCH_COUNT: count}
        return self._telemetry.tracer.start_span(
            f"send {topic}",
            kind=SpanKind.PRODUCER,
            attributes=attributes,
            links=[trace.Link(ctx) for ctx in custom],
        )

    @staticmethod
    def _inject(span: Span, headers: Headers | None) -> Headers | None:
        """``headers`` plus the span's context; unchanged if they are not a mapping (the
        producer refuses those with its own error)."""
        if headers is not None and not isinstance(headers, Mapping):
            return headers
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(span))
        if not carrier:
            return headers
        return {**headers, **carrier} if headers else carrier

    def send(
        self,
        topic: str,
        value: Any,
        *,
        key: bytes | str | None = None,
        headers: Headers | None = None,
        partition: int | None = None,
        routing_key: str | None = None,
        delay: float | None = None,
    ) -> Awaitable[Receipt]:
        if not self._started or self._closed:
            self._check_open()
        custom = _custom_context(headers)
        span = self._start(topic, [custom] if custom is not None else [])
        traced = self._inject(span, headers) if custom is None else headers
        send = super().send
        try:
            try:
                pending = send(
                    topic,
                    value,
                    key=key,
                    headers=traced,
                    partition=partition,
                    routing_key=routing_key,
                    delay=delay,
                )
            except _REFUSED:
                if traced is headers:
                    raise
                pending = send(
                    topic,
                    value,
                    key=key,
                    headers=headers,
                    partition=partition,
                    routing_key=routing_key,
                    delay=delay,
                )
        except BaseException as error:
            self._count(topic, 1, error)
            _fail(span, error)
            raise
        return self._confirm(span, topic, pending)

    async def _confirm(self, span: Span, topic: str, pending: Awaitable[Receipt]) -> Receipt:
        try:
            receipt = await pending
        except BaseException as error:
            self._count(topic, 1, error)
            _fail(span, error)
            raise
        if receipt.partition is not None:
            span.set_attribute(names.PARTITION, str(receipt.partition))
        if receipt.offset is not None:
            span.set_attribute(names.KAFKA_OFFSET if self._kafka else names.OFFSET, receipt.offset)
        if receipt.message_id is not None:
            span.set_attribute(names.MESSAGE_ID, receipt.message_id)
        span.end()
        self._count(topic, 1, None)
        return receipt

    async def send_batch(self, topic: str, messages: Iterable[Message | bytes]) -> list[Receipt]:
        """One ``send <topic>`` span for the batch; its context goes into every message
        that has none of its own."""
        items = [m if isinstance(m, Message) else Message(m) for m in messages]
        customs = [_custom_context(item.headers) for item in items]
        span = self._start(topic, [c for c in customs if c is not None], len(items))
        traced = [
            item
            if custom is not None
            else dataclasses.replace(item, headers=self._inject(span, item.headers))
            for item, custom in zip(items, customs, strict=True)
        ]
        try:
            try:
                receipts = await super().send_batch(topic, traced)
            except _REFUSED:
                receipts = await super().send_batch(topic, items)
        except BaseException as error:
            self._count(topic, len(items), error)
            _fail(span, error)
            raise
        span.end()
        self._count(topic, len(items), None)
        return receipts

    def _count(self, topic: str, n: int, error: BaseException | None) -> None:
        attributes = self._attributes(topic)
        if error is not None:
            attributes = {**attributes, names.ERROR_TYPE: names.error_type(error)}
        self._telemetry.sent.add(n, attributes)
