"""A Jepsen-style checker: what was sent against what was received.

Lost (sent and confirmed, never received) and unexpected (received, never sent) must be
empty on every backend; duplicates are counted rather than failed on, because
at-least-once delivery allows them unless a backend declares exactly-once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Ledger:
    """Sent and received message ids of one test."""

    sent: list[bytes] = field(default_factory=list)
    received: list[bytes] = field(default_factory=list)

    def expect(self, value: bytes) -> bytes:
        self.sent.append(value)
        return value

    def record(self, value: bytes) -> None:
        self.received.append(value)

    @property
    def lost(self) -> set[bytes]:
        return set(self.sent) - set(self.received)

    @property
    def unexpected(self) -> set[bytes]:
        return set(self.received) - set(self.sent)

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in Counter(self.received).values() if n > 1)

    def summary(self) -> str:
        return (
            f"sent={len(self.sent)} received={len(self.received)} lost={len(self.lost)} "
            f"unexpected={len(self.unexpected)} duplicates={self.duplicates}"
        )

    def assert_complete(self, *, exactly_once: bool = False) -> None:
        """No loss, nothing unexpected; no duplicates only if exactly-once is declared."""
        assert not self.lost, f"lost {sorted(self.lost)[:10]}… ({self.summary()})"
        assert not self.unexpected, f"unexpected {sorted(self.unexpected)[:10]} ({self.summary()})"
        if exactly_once:
            assert self.duplicates == 0, f"duplicates under exactly-once ({self.summary()})"
