"""Which :class:`~anymq.otel.telemetry.Telemetry` new producers and consumers record with."""

from __future__ import annotations

from anymq.errors import ConfigError
from anymq.otel.telemetry import Telemetry

_active: Telemetry | None = None


def current() -> Telemetry:
    if _active is None:
        raise ConfigError("anymq.otel is not instrumented; call anymq.otel.instrument() first")
    return _active


def get() -> Telemetry | None:
    return _active


def set_active(telemetry: Telemetry | None) -> None:
    global _active
    _active = telemetry
