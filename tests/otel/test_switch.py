"""How tracing is switched on and off, and what it costs when off: nothing changes for a
process that never calls instrument() (and it never imports OpenTelemetry); without the
API installed instrument() names the extra; without an SDK the trace context still
passes through a handler."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import anymq
import anymq.otel
from anymq.client import Broker, Consumer, Producer
from anymq.delivery import Delivery
from anymq.errors import ConfigError
from anymq.otel import names
from tests.otel.conftest import Recorded

ROOT = Path(__file__).resolve().parents[2]


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


@pytest.mark.anymq
async def test_uninstrumented_clients_are_the_plain_ones() -> None:
    assert not anymq.otel.instrumented()
    async with anymq.connect("memory://") as broker:
        await broker.create_topic("t")
        assert type(broker.producer()) is Producer
        consumer = broker.consumer("t", "g")
        assert type(consumer) is Consumer
        assert type(consumer.delivery) is Delivery
        assert consumer.runtime_trace("h") is None


@pytest.mark.anymq
async def test_instrument_then_uninstrument(otel: Recorded) -> None:
    assert anymq.otel.instrumented()
    async with anymq.connect("memory://") as broker:
        await broker.create_topic("t")
        assert type(broker.producer()) is not Producer
        anymq.otel.uninstrument()
        assert type(broker.producer()) is Producer
    assert Broker.consumer_class is Consumer


def test_running_an_app_never_imports_opentelemetry() -> None:
    done = _python(
        "import asyncio, sys, anymq\n"
        "app = anymq.App('memory://x')\n"
        "seen = []\n"
        "@app.handler('t', group='g', serializer=None)\n"
        "async def h(body: bytes) -> None:\n"
        "    seen.append(body)\n"
        "async def main():\n"
        "    async with anymq.connect('memory://x') as b:\n"
        "        await b.create_topic('t')\n"
        "    async with app:\n"
        "        async with app.broker.producer() as p:\n"
        "            await p.send('t', b'x')\n"
        "        while not seen:\n"
        "            await asyncio.sleep(0.01)\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_without_the_api_instrument_names_the_extra() -> None:
    done = _python(
        "import sys\n"
        "sys.modules['opentelemetry'] = None\n"
        "import anymq.otel\n"
        "try:\n"
        "    anymq.otel.instrument()\n"
        "except anymq.ConfigError as exc:\n"
        "    print(exc)\n"
        "print(anymq.otel.instrumented())\n"
    )
    assert done.returncode == 0, done.stderr
    assert "pip install 'anymq[otel]'" in done.stdout
    assert done.stdout.strip().endswith("False")


@pytest.mark.parametrize("interval", [0, -1, "5", float("nan")])
def test_a_bad_lag_interval_is_refused(interval: Any) -> None:
    with pytest.raises(ConfigError, match="lag_interval"):
        anymq.otel.instrument(lag_interval=interval)
    assert not anymq.otel.instrumented()


def test_without_a_provider_instrument_changes_nothing() -> None:
    """No SDK provider set (a fresh process): nothing to record to, so instrument() keeps
    the plain clients (zero cost) and says so, and no header is added."""
    done = _python(
        "import asyncio, anymq, anymq.otel\n"
        "from anymq.client import Producer\n"
        "print(anymq.otel.instrument(), anymq.otel.instrumented())\n"
        "async def main():\n"
        "    async with anymq.connect('memory://x') as b:\n"
        "        await b.create_topic('t')\n"
        "        async with b.consumer('t', 'g') as c, b.producer() as p:\n"
        "            print(type(p) is Producer)\n"
        "            await p.send('t', b'x')\n"
        "            [m] = await c.receive(1, timeout=5)\n"
        "            print(dict(m.headers))\n"
        "asyncio.run(main())\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == ["False False", "True", "{}"]
    assert "no OpenTelemetry tracer or meter provider is set" in done.stderr


def test_a_provider_set_globally_is_used() -> None:
    done = _python(
        "import asyncio, anymq, anymq.otel\n"
        "from opentelemetry import trace\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "from opentelemetry.sdk.trace.export import SimpleSpanProcessor\n"
        "from opentelemetry.sdk.trace.export.in_memory_span_exporter import "
        "InMemorySpanExporter\n"
        "exporter = InMemorySpanExporter()\n"
        "provider = TracerProvider()\n"
        "provider.add_span_processor(SimpleSpanProcessor(exporter))\n"
        "trace.set_tracer_provider(provider)\n"
        "print(anymq.otel.instrument(lag_interval=None))\n"
        "async def main():\n"
        "    async with anymq.connect('memory://x') as b:\n"
        "        await b.create_topic('t')\n"
        "        async with b.producer() as p:\n"
        "            await p.send('t', b'x')\n"
        "asyncio.run(main())\n"
        "print([s.name for s in exporter.get_finished_spans()])\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["True", "['send t']"]


def test_the_attribute_and_metric_names_are_the_conventions() -> None:
    """Every messaging.* name anymq writes is one the semantic conventions define."""
    from opentelemetry.semconv._incubating.attributes import messaging_attributes
    from opentelemetry.semconv._incubating.metrics import messaging_metrics

    defined = {
        v for k, v in vars(messaging_attributes).items() if k.isupper() and isinstance(v, str)
    }
    used = {
        v
        for k, v in vars(names).items()
        if k.isupper() and isinstance(v, str) and v.startswith("messaging.")
    }
    metrics = {v for k, v in vars(messaging_metrics).items() if k.isupper() and isinstance(v, str)}
    assert used - metrics <= defined, used - metrics - defined
    assert {names.SENT, names.CONSUMED, names.PROCESS_DURATION} <= metrics
    assert names.SCHEMA_URL.endswith(names.SCHEMA_URL.rsplit("/", 1)[1])
