"""What happens to a message once its handler ran: the ack table, as one policy object.

Kept apart from the runner so the decision (ack, retry, dead-letter, drop, reject) is data
the docs and the contract suite can name; the runner only carries it out.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal

from anymq.errors import ConfigError
from anymq.message import Received
from anymq.runtime.retry import IMMEDIATE, Backoff, ErrorAction, action_for

Poison = Literal["dead_letter", "reject"]


class Outcome(Enum):
    """How the runner settles a message."""

    ACK = "ack"
    """Done: the group will not see it again."""
    RETRY = "retry"
    """Run it again after :meth:`SettlePolicy.retry_delay` (its key's later messages wait)."""
    DEAD_LETTER = "dead_letter"
    """It can never succeed, or its retries ran out: to the dead-letter topic at once, with
    the exception's type and message."""
    DROP = "drop"
    """The handler's rule says it is not worth keeping: ack it (logged)."""
    REJECT = "reject"
    """``nack(requeue=False)``: dead-lettered where the consumer has a dead-letter topic,
    else dropped by the broker."""


@dataclass(frozen=True, slots=True)
class SettlePolicy:
    """One handler's ack policy.

    ``poison`` is what happens to a payload that does not decode or validate: it can never
    succeed, so it is never retried (that would block its key and loop forever). A handler
    exception is looked up in ``rules`` (most specific class first, default ``retry``); a
    retry waits ``backoff``, and the delivery that fails as number ``max_deliveries`` (None:
    no limit) is dead-lettered instead.
    """

    poison: Poison = "dead_letter"
    backoff: Backoff = IMMEDIATE
    max_deliveries: int | None = None
    rules: tuple[tuple[type[BaseException], ErrorAction], ...] = ()

    def __post_init__(self) -> None:
        if self.poison not in ("dead_letter", "reject"):
            raise ConfigError(f"on_poison must be 'dead_letter' or 'reject', got {self.poison!r}")

    @property
    def dead_letters(self) -> bool:
        """True when some outcome of a handler exception is the dead-letter topic."""
        return self.max_deliveries is not None or any(a == "dead_letter" for _, a in self.rules)

    def on_success(self, message: Received) -> Outcome:
        return Outcome.ACK

    def on_poison(self, message: Received, error: BaseException) -> Outcome:
        return Outcome.DEAD_LETTER if self.poison == "dead_letter" else Outcome.REJECT

    def on_error(self, message: Received, error: BaseException) -> Outcome:
        """A handler raised: its rule, and a retry only while deliveries are left."""
        action = action_for(self.rules, error)
        if action == "drop":
            return Outcome.DROP
        if action == "dead_letter":
            return Outcome.DEAD_LETTER
        limit = self.max_deliveries
        if limit is not None and message.delivery_count >= limit:
            return Outcome.DEAD_LETTER
        return Outcome.RETRY

    def retry_delay(self, message: Received) -> float:
        """Seconds to wait before the next attempt of a message whose delivery failed."""
        return self.backoff.delay(message.delivery_count)
