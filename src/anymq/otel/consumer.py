"""A consumer that counts what it delivers and settles, reports its group's lag, and
traces: ``receive <topic>`` spans for the application's own receive calls, and the
runtime's ``process <topic>`` span per handled message (see :mod:`anymq.otel.scope`).

Receive spans (kind CLIENT) link to each message's creation context. The runtime makes
none (its fetches are prefetching, and a receive that waits for traffic would be a long,
empty span); its process spans carry the trace instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from anymq.backend import ConsumerDriver, ConsumerOptions
from anymq.client import Broker, Consumer
from anymq.deadletter import LIMIT_EXCEEDED
from anymq.delivery import Delivery
from anymq.errors import UnsupportedFeature
from anymq.features import Capabilities
from anymq.message import Received
from anymq.otel import names, state
from anymq.otel.scope import (
    ProcessScope,
    creation_context,
    current_scope,
    message_attributes,
)
from anymq.otel.telemetry import Attributes, Telemetry

log = logging.getLogger("anymq.otel")


def _attributes(capabilities: Capabilities, options: ConsumerOptions) -> Attributes:
    """What every span and metric of one consumer carries (low cardinality)."""
    out: Attributes = {
        names.SYSTEM: names.system(capabilities.backend),
        names.DESTINATION: options.topic,
    }
    if options.group is not None:
        out[names.GROUP] = options.group
    return out


class MeteredDelivery(Delivery):
    """:class:`~anymq.delivery.Delivery` that counts acks, retries and dead letters, and
    tells the message's open process span how it was settled."""

    __slots__ = ("_attributes", "_dying", "_nacked_dead", "_nacking", "_telemetry")

    def __init__(
        self, driver: ConsumerDriver, options: ConsumerOptions, capabilities: Capabilities
    ) -> None:
        super().__init__(driver, options, capabilities)
        self._telemetry = telemetry = state.current()
        self._attributes = attributes = _attributes(capabilities, options)
        self._dying: set[int] = set()
        """Messages being dead-lettered: their ack (after the publish) is no ack."""
        self._nacking: set[int] = set()
        self._nacked_dead: set[int] = set()
        acked = telemetry.acked
        raw = self.ack_one
        dying = self._dying

        def ack_one(message: Received) -> Any:
            if id(message) not in dying:
                acked.add(1, attributes)
                if (scope := current_scope(message)) is not None:
                    scope.settled("ack")
            return raw(message)

        self.ack_one = ack_one

    async def ack_many(self, messages: Sequence[Received]) -> None:
        await super().ack_many(messages)
        self._telemetry.acked.add(len(messages), self._attributes)

    async def nack(self, message: Received, requeue: bool, delay: float | None) -> None:
        key = id(message)
        self._nacking.add(key)
        try:
            await super().nack(message, requeue, delay)
        finally:
            self._nacking.discard(key)
            dead = key in self._nacked_dead
            self._nacked_dead.discard(key)
        scope = current_scope(message)
        if dead:
            if scope is not None:
                scope.settled("dead_letter" if requeue else "reject")
        elif requeue:
            self._telemetry.retried.add(1, self._attributes)
            if scope is not None:
                scope.settled("retry")

    async def dead_letter(self, message: Received, reason: str, exception: str) -> None:
        await super().dead_letter(message, reason, exception)
        if (scope := current_scope(message)) is not None:
            scope.settled("dead_letter")

    async def _dead(self, message: Received, reason: str, exception: str = LIMIT_EXCEEDED) -> None:
        key = id(message)
        self._dying.add(key)
        try:
            await super()._dead(message, reason, exception)
        finally:
            self._dying.discard(key)
        if key in self._nacking:
            self._nacked_dead.add(key)
        attributes = {**self._attributes, names.ERROR_TYPE: exception}
        self._telemetry.dead_lettered.add(1, attributes)


class TracedConsumer(Consumer):
    """:class:`~anymq.Consumer` with receive spans, the consumed count and the lag gauge
    (made by ``Broker.consumer`` once :func:`anymq.otel.instrument` ran)."""

    delivery_class = MeteredDelivery

    def __init__(self, broker: Broker, *args: Any, **kwargs: Any) -> None:
        super().__init__(broker, *args, **kwargs)
        self._telemetry = state.current()
        self._attributes = _attributes(broker.capabilities, self.options)
        self._kafka = broker.capabilities.backend == "kafka"
        self._receive_spans = True
        self._lag_task: asyncio.Task[None] | None = None

    # -- receiving ---------------------------------------------------------------------
    async def receive(self, max_messages: int = 100, timeout: float | None = 1.0) -> list[Received]:
        started = time.time_ns()
        batch = await super().receive(max_messages, timeout)
        if batch:
            self._received(batch, started)
        return batch

    async def __anext__(self) -> Received:
        started = time.time_ns()
        message = await super().__anext__()
        self._received([message], started)
        return message

    def _received(self, batch: list[Received], started: int) -> None:
        telemetry = self._telemetry
        telemetry.consumed.add(len(batch), self._attributes)
        if not self._receive_spans:
            return
        attributes: Attributes = {
            **self._attributes,
            names.OPERATION_TYPE: "receive",
            names.OPERATION_NAME: "receive",
        }
        if len(batch) == 1:
            attributes.update(message_attributes(batch[0], self._kafka))
        else:
            attributes[names.BATCH_COUNT] = len(batch)
        links = []
        for message in batch:
            found = trace.get_current_span(creation_context(message)).get_span_context()
            if found.is_valid:
                links.append(trace.Link(found))
        span = telemetry.tracer.start_span(
            f"receive {self.topic}",
            kind=SpanKind.CLIENT,
            attributes=attributes,
            links=links,
            start_time=started,
        )
        span.end()

    # -- the runtime -------------------------------------------------------------------
    def runtime_trace(self, handler: str) -> Callable[[Received], Callable[[], None]]:
        """Process spans for the runtime's handler ``handler``; its fetches get no receive
        spans from now on."""
        self._receive_spans = False
        telemetry = self._telemetry
        kafka = self._kafka
        metric_attributes = {**self._attributes, names.OPERATION_NAME: "process"}
        attributes: Attributes = {
            **self._attributes,
            names.OPERATION_TYPE: "process",
            names.OPERATION_NAME: "process",
            names.FUNCTION: handler,
        }

        def open_span(message: Received) -> Callable[[], None]:
            return ProcessScope(telemetry, message, attributes, metric_attributes, kafka).close

        return open_span

    # -- lag ---------------------------------------------------------------------------
    async def start(self) -> None:
        await super().start()
        interval = self._telemetry.lag_interval
        if self.group is not None and interval is not None and self._lag_task is None:
            self._lag_task = asyncio.create_task(
                self._poll_lag(self.group, interval), name=f"anymq-otel-lag {self.topic}"
            )

    async def close(self) -> None:
        task, self._lag_task = self._lag_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._telemetry.lags.pop(id(self), None)
        await super().close()

    async def _poll_lag(self, group: str, interval: float) -> None:
        """Read the group's lag every ``interval`` seconds for the gauge (whose callback
        cannot await); a backend that cannot tell stops, a failed read is retried."""
        lags = self._telemetry.lags
        while True:
            try:
                info = await self.broker.describe_group(self.topic, group)
            except UnsupportedFeature:
                return
            except Exception as error:  # a metric never takes the consumer down
                log.debug("lag of %s in %s not read: %s", self.topic, group, error)
            else:
                lags[id(self)] = [
                    (p.lag, self._partition_attributes(p.partition)) for p in info.partitions
                ]
            await asyncio.sleep(interval)

    def _partition_attributes(self, partition: int | None) -> Attributes:
        if partition is None:
            return self._attributes
        return {**self._attributes, names.PARTITION: str(partition)}


def telemetry_of(message: Received) -> tuple[Telemetry, Attributes, bool] | None:
    """The telemetry, attributes and Kafka flag of the traced consumer that delivered
    ``message`` (None if its consumer is not traced)."""
    delivery = message._delivery
    if not isinstance(delivery, MeteredDelivery):
        return None
    kafka = delivery.capabilities.backend == "kafka"
    return delivery._telemetry, delivery._attributes, kafka
