"""OpenTelemetry for anymq: one trace across brokers, messaging spans and metrics.

    import anymq.otel

    anymq.otel.instrument()   # once, before the app (or its producers and consumers) start

Needs ``pip install 'anymq[otel]'`` (the OpenTelemetry API). Spans and metrics go to the
providers you configure with the OpenTelemetry SDK (or to ``tracer_provider=`` /
``meter_provider=``). Without them, or without :func:`instrument`, a process runs exactly
the plain clients it ran before: tracing off costs nothing. See
docs/tracing.md for the spans, their attributes and the metrics.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from anymq import arguments
from anymq.errors import ConfigError
from anymq.message import Received

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

__all__ = ["instrument", "instrumented", "process", "uninstrument"]

log = logging.getLogger("anymq.otel")

_MISSING = (
    "anymq.otel needs the OpenTelemetry API, which is not installed: "
    "pip install 'anymq[otel]' (and an OpenTelemetry SDK to record and export)"
)


def instrument(
    *,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
    lag_interval: float | None = 15.0,
) -> bool:
    """Trace and measure every producer and consumer made from now on (``anymq.App``'s
    too, which makes them when it starts), on every backend; True if it did.

    The providers default to OpenTelemetry's global ones, so set those up with the SDK
    first: while neither is set (nor passed) there is nothing to record to, and this
    changes nothing and returns False, so the clients stay the plain, zero-cost ones.
    ``lag_interval``: seconds between reads of each consumer group's lag for the
    ``anymq.consumer.lag`` gauge (None: no reads). Calling it again replaces the
    providers for clients made afterwards.
    """
    arguments.seconds("lag_interval", lag_interval, none="no lag gauge")
    if lag_interval is not None and lag_interval <= 0:
        raise ConfigError(f"lag_interval must be > 0 seconds or None, got {lag_interval!r}")
    try:
        from anymq.otel import state
        from anymq.otel.consumer import TracedConsumer
        from anymq.otel.producer import TracedProducer
        from anymq.otel.telemetry import Telemetry
    except ImportError as exc:
        raise ConfigError(_MISSING) from exc
    from anymq.client import Broker

    if tracer_provider is None and meter_provider is None and not _sdk_configured():
        log.warning(
            "anymq.otel.instrument(): no OpenTelemetry tracer or meter provider is set, so "
            "nothing is traced; set the SDK's providers first (or pass them)"
        )
        return False
    state.set_active(Telemetry.create(tracer_provider, meter_provider, lag_interval))
    Broker.producer_class = TracedProducer
    Broker.consumer_class = TracedConsumer
    return True


def _sdk_configured() -> bool:
    """Whether a global tracer or meter provider was set (the API's defaults are proxies
    that record nothing until one is)."""
    from opentelemetry import metrics, trace

    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return True
    try:
        from opentelemetry.metrics._internal import _ProxyMeterProvider
    except ImportError:  # a future API without it: assume one is set
        return True
    return not isinstance(metrics.get_meter_provider(), _ProxyMeterProvider)


def uninstrument() -> None:
    """Make plain producers and consumers again (the ones made before stay traced)."""
    from anymq.client import Broker, Consumer, Producer

    Broker.producer_class = Producer
    Broker.consumer_class = Consumer
    try:
        from anymq.otel import state
    except ImportError:
        return
    state.set_active(None)


def instrumented() -> bool:
    """True between :func:`instrument` and :func:`uninstrument`."""
    from anymq.client import Broker, Producer

    return Broker.producer_class is not Producer


@contextmanager
def process(message: Received) -> Iterator[None]:
    """A ``process <topic>`` span around your own handling of ``message`` (from
    ``consumer.receive()`` or ``async for``), continuing its producer's trace like the
    runtime's handler spans; what you send inside is its child. An exception marks it
    failed. Does nothing for a message from a consumer that is not traced.
    """
    try:
        from anymq.otel.consumer import telemetry_of
        from anymq.otel.scope import ProcessScope
    except ImportError:
        yield
        return
    found = telemetry_of(message)
    if found is None:
        yield
        return
    telemetry, attributes, kafka = found
    metric_attributes: dict[str, Any] = {**attributes, "messaging.operation.name": "process"}
    span_attributes = {
        **attributes,
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
    }
    scope = ProcessScope(telemetry, message, span_attributes, metric_attributes, kafka)
    try:
        yield
    except BaseException as error:
        scope.fail(error)
        raise
    finally:
        scope.close()
