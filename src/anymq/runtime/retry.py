"""Retry policy of a handler: how long to wait before the next attempt, and what each
exception type means (retry, dead-letter at once, drop).

Pure data and arithmetic, no I/O: the runner carries the decision out (see settle.py), so
the same policy means the same on every backend.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

from anymq.errors import ConfigError

ErrorAction = Literal["retry", "dead_letter", "drop"]
"""What a handler's exception does to its message: ``retry`` (per the backoff, until
``max_deliveries``), ``dead_letter`` (at once: it can never succeed) or ``drop`` (ack it)."""
ACTIONS: tuple[str, ...] = get_args(ErrorAction)

#: The longest wait anymq promises on every backend (SQS's visibility limit, 12 h): the
#: same limit as ``nack(delay=...)``, so a policy that works on one backend works on all.
MAX_DELAY = 43_200.0
#: ``max_deliveries`` when a handler has a retry policy and does not say.
DEFAULT_MAX_DELIVERIES = 5
#: ``max_deliveries=UNLIMITED``: retry until the handler succeeds, never dead-letter for
#: the count (Spring's ``UNLIMITED_ATTEMPTS``). For failures that pass (a service that is
#: down); the key waits meanwhile, so a message that can never succeed blocks its key.
UNLIMITED: Literal["unlimited"] = "unlimited"


def _seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ConfigError(f"Backoff {name} must be a number of seconds >= 0, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"Backoff {name} must be finite, got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff: the n-th retry waits ``min(max, initial * multiplier**(n-1))``
    seconds, lengthened by up to ``jitter`` times that (never shortened, so the policy's
    delays are minimums a test can check; the jitter spreads retries of many instances)."""

    initial: float = 0.5
    max: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        initial = _seconds("initial", self.initial)
        top = _seconds("max", self.max)
        if top < initial:
            raise ConfigError(f"Backoff max must be >= initial ({initial:g}), got {top:g}")
        if top > MAX_DELAY:
            raise ConfigError(
                f"Backoff max must be at most {MAX_DELAY:g} s (12 h, the longest delay every "
                f"backend can hold a message), got {top:g}"
            )
        multiplier = self.multiplier
        if isinstance(multiplier, bool) or not isinstance(multiplier, int | float):
            raise ConfigError(f"Backoff multiplier must be a number >= 1, got {multiplier!r}")
        if not 1 <= multiplier < math.inf:
            raise ConfigError(f"Backoff multiplier must be >= 1, got {multiplier!r}")
        jitter = self.jitter
        if isinstance(jitter, bool) or not isinstance(jitter, int | float) or not 0 <= jitter <= 1:
            raise ConfigError(f"Backoff jitter must be between 0 and 1, got {jitter!r}")

    def nominal(self, attempt: int) -> float:
        """The wait after failed attempt ``attempt`` (1 = the first delivery), no jitter."""
        exponent = max(attempt - 1, 0)
        try:
            delay = self.initial * self.multiplier**exponent
        except OverflowError:
            return float(self.max)
        return float(min(self.max, delay))

    def delay(self, attempt: int) -> float:
        """The wait after failed attempt ``attempt``, with jitter."""
        nominal = self.nominal(attempt)
        if not self.jitter or not nominal:
            return nominal
        jittered = nominal * (1.0 + random.uniform(0.0, self.jitter))
        return min(jittered, MAX_DELAY)


#: What a handler without ``retry=`` does: the next attempt at once (as before retries had
#: a policy), still never passing the key's later messages.
IMMEDIATE = Backoff(initial=0.0, max=0.0, multiplier=1.0, jitter=0.0)


def rules(on_error: object, where: str) -> tuple[tuple[type[BaseException], ErrorAction], ...]:
    """``on_error`` checked: a mapping of exception classes to actions, kept in order."""
    if on_error is None:
        return ()
    if not isinstance(on_error, Mapping):
        raise ConfigError(
            f"{where}: on_error must be a mapping of exception classes to 'retry', "
            f"'dead_letter' or 'drop', got {type(on_error).__name__}"
        )
    out: list[tuple[type[BaseException], ErrorAction]] = []
    for cls, action in on_error.items():
        if not (isinstance(cls, type) and issubclass(cls, BaseException)):
            raise ConfigError(f"{where}: on_error keys must be exception classes, got {cls!r}")
        if action not in ACTIONS:
            raise ConfigError(
                f"{where}: on_error[{cls.__name__}] must be 'retry', 'dead_letter' or 'drop', "
                f"got {action!r}"
            )
        out.append((cls, action))
    return tuple(out)


def action_for(
    table: tuple[tuple[type[BaseException], ErrorAction], ...], error: BaseException
) -> ErrorAction:
    """The rule of the most specific class in the table the error is an instance of (as an
    ``except`` clause would pick, by the error's MRO); ``retry`` when none matches."""
    if table:
        by_class = dict(table)
        for cls in type(error).__mro__:
            action = by_class.get(cls)
            if action is not None:
                return action
    return "retry"
