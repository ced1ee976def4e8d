"""The instruments of one ``instrument()`` call: a tracer, the counters and histogram, and
the lag gauge's readings, plus the header carrier the propagators read and write.

Producers and consumers take the :data:`active` one when they are made, so a client keeps
the providers it started with and nothing is looked up per message.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.propagators.textmap import Getter
from opentelemetry.util.types import AttributeValue

import anymq
from anymq.otel import names

Attributes = dict[str, AttributeValue]


class HeaderGetter(Getter[Mapping[str, bytes]]):
    """Reads trace context from received headers (bytes values, as every backend hands
    them over); a value that is not UTF-8 is skipped, like a missing one."""

    def get(self, carrier: Mapping[str, bytes], key: str) -> list[str] | None:
        value = carrier.get(key)
        if value is None:
            return None
        try:
            return [value.decode("utf-8")]
        except UnicodeDecodeError:
            return None

    def keys(self, carrier: Mapping[str, bytes]) -> list[str]:
        return list(carrier)


GETTER = HeaderGetter()


@dataclass(eq=False)
class Telemetry:
    """Everything anymq records with, made once per :func:`anymq.otel.instrument`."""

    tracer: trace.Tracer
    sent: metrics.Counter
    consumed: metrics.Counter
    acked: metrics.Counter
    retried: metrics.Counter
    dead_lettered: metrics.Counter
    duration: metrics.Histogram
    lag_interval: float | None
    lags: dict[int, list[tuple[int, Attributes]]] = field(default_factory=dict)
    """Each traced consumer's last lag reading per partition (written by its poller)."""

    @classmethod
    def create(
        cls,
        tracer_provider: trace.TracerProvider | None,
        meter_provider: metrics.MeterProvider | None,
        lag_interval: float | None,
    ) -> Telemetry:
        version = anymq.__version__
        tracer = trace.get_tracer(
            names.INSTRUMENTATION, version, tracer_provider, schema_url=names.SCHEMA_URL
        )
        meter = metrics.get_meter(
            names.INSTRUMENTATION, version, meter_provider, schema_url=names.SCHEMA_URL
        )
        msgs = "{message}"
        made = cls(
            tracer=tracer,
            sent=meter.create_counter(
                names.SENT, msgs, "Messages the producer tried to send (error.type: failed)"
            ),
            consumed=meter.create_counter(
                names.CONSUMED, msgs, "Messages delivered to the application"
            ),
            acked=meter.create_counter(names.ACKED, msgs, "Messages acked (done)"),
            retried=meter.create_counter(
                names.RETRIED, msgs, "Messages nacked for redelivery (a retry)"
            ),
            dead_lettered=meter.create_counter(
                names.DEAD_LETTERED,
                msgs,
                "Messages sent to the dead-letter topic (or dropped where there is none)",
            ),
            duration=meter.create_histogram(
                names.PROCESS_DURATION,
                "s",
                "Time from a handler's start to its message being settled",
            ),
            lag_interval=lag_interval,
        )
        meter.create_observable_gauge(
            names.LAG,
            [made.observe_lag],
            msgs,
            "Messages waiting for the consumer group, per partition (from describe_group)",
        )
        return made

    def observe_lag(self, options: CallbackOptions) -> Iterator[Observation]:
        """The gauge's callback (maybe on the reader's thread): the last readings, one per
        group and partition however many consumers of that group this process runs."""
        seen: dict[tuple[Any, ...], Observation] = {}
        for readings in list(self.lags.values()):
            for lag, attributes in readings:
                seen[tuple(sorted(attributes.items()))] = Observation(lag, attributes)
        return iter(seen.values())
