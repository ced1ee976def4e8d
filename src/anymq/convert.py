"""Converters for option values every backend shares: strict booleans, positive seconds.

URL query values arrive as strings and keyword options as Python values. A value that is
not clearly one of the accepted spellings is a ConfigError, never a silent default:
``auto_create_topics=nope`` must not quietly mean false, nor ``connect_timeout=0`` ten seconds.
"""

from __future__ import annotations

import math
from typing import Any

from anymq.errors import ConfigError

TRUE = ("true", "1", "yes", "on")
FALSE = ("false", "0", "no", "off")


def flag(name: str, value: Any) -> bool:
    """A boolean option: a bool, or one of true/false, 1/0, yes/no, on/off (any case)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ConfigError(
        f"option {name} must be true or false (or 1/0, yes/no, on/off), got {value!r}"
    )


def seconds(name: str, value: Any) -> float:
    """A timeout or interval option: a finite number of seconds > 0."""
    if isinstance(value, bool):
        raise ConfigError(f"option {name} must be a number of seconds > 0, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"option {name} must be a number of seconds > 0, got {value!r}"
        ) from None
    if not math.isfinite(number) or number <= 0:
        raise ConfigError(f"option {name} must be a number of seconds > 0, got {value!r}")
    return number
