"""An instrumented anymq with the SDK's in-memory span exporter and metric reader."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import anymq.otel


@dataclass
class Recorded:
    """What the instrumented clients recorded so far."""

    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        found = list(self.exporter.get_finished_spans())
        return [s for s in found if name is None or s.name == name]

    def span(self, name: str) -> ReadableSpan:
        found = self.spans(name)
        assert len(found) == 1, f"{len(found)} spans named {name!r}: {self.names()}"
        return found[0]

    def names(self) -> list[str]:
        return [s.name for s in self.exporter.get_finished_spans()]

    def points(self, metric: str) -> list[tuple[dict[str, Any], Any]]:
        """(attributes, value) of each data point of ``metric`` (sum, gauge or histogram:
        the histogram's count)."""
        data = self.reader.get_metrics_data()
        out: list[tuple[dict[str, Any], Any]] = []
        if data is None:
            return out
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for m in scope.metrics:
                    if m.name != metric:
                        continue
                    for point in m.data.data_points:
                        value = getattr(point, "value", None)
                        if value is None:
                            value = point.count  # type: ignore[union-attr]
                        out.append((dict(point.attributes or {}), value))
        return out

    def total(self, metric: str, **match: Any) -> Any:
        """Sum of ``metric``'s points whose attributes include ``match`` (dots as __)."""
        want = {k.replace("__", "."): v for k, v in match.items()}
        return sum(
            value
            for attributes, value in self.points(metric)
            if all(attributes.get(k) == v for k, v in want.items())
        )


@pytest.fixture
def otel() -> Iterator[Recorded]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    anymq.otel.instrument(
        tracer_provider=tracer_provider, meter_provider=meter_provider, lag_interval=0.05
    )
    try:
        yield Recorded(exporter, reader, tracer_provider)
    finally:
        anymq.otel.uninstrument()
        tracer_provider.shutdown()
        meter_provider.shutdown()
