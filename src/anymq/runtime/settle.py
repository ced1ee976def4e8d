"""What happens to a message once its handler ran: the ack table, as one policy object.

Kept apart from the runner so the decision (ack, retry, dead-letter, reject) is data the
docs and the contract suite can name, and so retries with backoff and per-exception rules
(issue 15 item 3) replace :meth:`SettlePolicy.on_error` without touching the runner.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal

from anymq.errors import ConfigError
from anymq.message import Received

Poison = Literal["dead_letter", "reject"]


class Outcome(Enum):
    """How the runner settles a message."""

    ACK = "ack"
    """Done: the group will not see it again."""
    RETRY = "retry"
    """Redeliver it (``nack(requeue=True)``); past ``max_deliveries`` it is dead-lettered."""
    DEAD_LETTER = "dead_letter"
    """It can never succeed: to the dead-letter topic at once, with the reason."""
    REJECT = "reject"
    """``nack(requeue=False)``: dead-lettered where the consumer has a dead-letter topic,
    else dropped by the broker."""


@dataclass(frozen=True, slots=True)
class SettlePolicy:
    """One handler's ack policy.

    ``poison`` is what happens to a payload that does not decode or validate: it can never
    succeed, so it is never retried (that would block its key and loop forever).
    """

    poison: Poison = "dead_letter"

    def __post_init__(self) -> None:
        if self.poison not in ("dead_letter", "reject"):
            raise ConfigError(f"on_poison must be 'dead_letter' or 'reject', got {self.poison!r}")

    def on_success(self, message: Received) -> Outcome:
        return Outcome.ACK

    def on_poison(self, message: Received, error: BaseException) -> Outcome:
        return Outcome.DEAD_LETTER if self.poison == "dead_letter" else Outcome.REJECT

    def on_error(self, message: Received, error: BaseException) -> Outcome:
        """A handler raised. For now always RETRY at once; issue 15 item 3 puts the backoff
        and the per-exception rules (retry, dead-letter at once, drop) here."""
        return Outcome.RETRY
