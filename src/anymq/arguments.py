"""Checks for numeric arguments of the public API (timeouts, delays, counts).

``value < 0`` is not enough: NaN compares false with everything (so a NaN timeout reaches
the driver and waits forever), a str raises a bare TypeError, and ``True`` is an int to
Python but never a count or a number of seconds a caller meant.
"""

from __future__ import annotations

import math
from typing import Any

from anymq.errors import ConfigError


def seconds(name: str, value: Any, *, none: str | None = None) -> float | None:
    """``value`` if it is None (when ``none`` says what None means) or finite seconds >= 0."""
    if value is None and none is not None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        allowed = "a finite number of seconds >= 0"
        if none is not None:
            allowed = f"None ({none}) or {allowed}"
        raise ConfigError(f"{name} must be {allowed}, got {value!r}")
    return value


def count(name: str, value: Any) -> int:
    """``value`` if it is an int >= 1 (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be an int >= 1, got {value!r}")
    return value
