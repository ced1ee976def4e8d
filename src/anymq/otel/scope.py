"""The process span of one message: opened when a handler starts, closed once it settled.

The span continues the producer's trace: the message's creation context (the
``traceparent`` its producer injected) is its parent, and also a link, as the messaging
conventions (v1.44.0, "Message creation context as parent of Process span") allow for
single-message processing; a span that was current where the app started (an ambient
context) is kept as a second link instead of being the parent. While the span is open it
is the current span, so what the handler sends (and ``publish_to``) becomes its child.
"""

from __future__ import annotations

import sys
import time
from typing import Final

from opentelemetry import context, propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from anymq.message import Received
from anymq.otel import names
from anymq.otel.telemetry import GETTER, Attributes, Telemetry

_SCOPE: Final = context.create_key("anymq-process")


def message_attributes(message: Received, kafka: bool) -> Attributes:
    """Per-message attributes: id, partition, offset, delivery count, body size."""
    out: Attributes = {
        names.DELIVERY_COUNT: message.delivery_count,
        names.BODY_SIZE: len(message.body),
    }
    if message.message_id is not None:
        out[names.MESSAGE_ID] = message.message_id
    if message.partition is not None:
        out[names.PARTITION] = str(message.partition)
    if message.offset is not None:
        out[names.KAFKA_OFFSET if kafka else names.OFFSET] = message.offset
    return out


def creation_context(message: Received) -> context.Context:
    """The current context with the message's creation context (and baggage) extracted."""
    return propagate.extract(message.headers, getter=GETTER)


class ProcessScope:
    """One message's process span, current until :meth:`close` (same task)."""

    __slots__ = (
        "_start",
        "_telemetry",
        "_token",
        "error",
        "message",
        "metric_attributes",
        "outcome",
        "span",
    )

    def __init__(
        self,
        telemetry: Telemetry,
        message: Received,
        attributes: Attributes,
        metric_attributes: Attributes,
        kafka: bool,
    ) -> None:
        self._telemetry = telemetry
        self.message = message
        self.metric_attributes = metric_attributes
        self.outcome: str | None = None
        self.error: BaseException | None = None
        ambient = trace.get_current_span().get_span_context()
        parent = creation_context(message)
        creation = trace.get_current_span(parent).get_span_context()
        links = []
        if creation.is_valid:
            links.append(trace.Link(creation))
            if ambient.is_valid and ambient != creation:
                links.append(trace.Link(ambient))
        attributes = {**attributes, **message_attributes(message, kafka)}
        self.span = telemetry.tracer.start_span(
            f"process {message.topic}",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes=attributes,
            links=links,
        )
        self._token = context.attach(
            context.set_value(_SCOPE, self, trace.set_span_in_context(self.span, parent))
        )
        self._start = time.perf_counter()

    def settled(self, outcome: str, error: BaseException | None = None) -> None:
        """How the message was settled; a failure's error is the exception being handled
        where the settle happens (the handler's, when the runtime settles in its except)."""
        self.outcome = outcome
        if outcome != "ack" and error is None:
            error = sys.exc_info()[1]
        if error is not None:
            self.error = error

    def fail(self, error: BaseException) -> None:
        self.error = error

    def close(self) -> None:
        """Make the previous context current again and end the span."""
        elapsed = time.perf_counter() - self._start
        context.detach(self._token)
        span = self.span
        metric_attributes = self.metric_attributes
        if self.outcome is not None:
            span.set_attribute(names.OUTCOME, self.outcome)
        error = self.error
        failed = error is not None or self.outcome not in (None, "ack")
        if failed:
            kind = names.error_type(error) if error is not None else str(self.outcome)
            span.set_attribute(names.ERROR_TYPE, kind)
            if error is not None:
                span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, str(error) if error else kind))
            metric_attributes = {**metric_attributes, names.ERROR_TYPE: kind}
        span.end()
        self._telemetry.duration.record(elapsed, metric_attributes)


def current_scope(message: Received) -> ProcessScope | None:
    """The process scope open for ``message`` in this task, if any."""
    scope = context.get_value(_SCOPE)
    if isinstance(scope, ProcessScope) and scope.message is message:
        return scope
    return None
