"""A Jepsen-style checker: what was sent against what was received.

Lost (sent and confirmed, never received) and unexpected (received, never sent) must be
empty on every backend; duplicates are counted rather than failed on, because
at-least-once delivery allows them unless a backend declares exactly-once.

A failure says what was expected and what was seen, in one sentence a reader can act on
("group 'g' was expected to receive 7 messages at least once each; got 6: missing #3
b'm3' (key b'k1')"), never a bare ``assert 0 == 1``. The ledger also tells as early as it
can that a message is lost (:meth:`Ledger.overtaken`): where a backend keeps per-key order,
a later message of the same key arriving means the earlier one is not coming.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

SHOWN = 10
"""How many messages a failure names (the count says how many there are in all)."""


@dataclass
class Ledger:
    """Sent and received message ids of one test (of one receiver: ``who``)."""

    who: str = "the consumer"
    """Who was to receive the messages, as a failure names it ("group 'g'")."""
    sent: list[bytes] = field(default_factory=list)
    received: list[bytes] = field(default_factory=list)
    keys: dict[bytes, bytes | None] = field(default_factory=dict)
    """The key each sent message carried (for failures and the per-key order proof)."""
    ordered: bool = False
    """Sent one at a time (each send awaited) and nothing is redelivered: where the backend
    keeps per-key order, :meth:`overtaken` proves losses."""
    stopped: str | None = None
    """Why a wait for these messages ended early (set by ``TestContext.collect``)."""

    def expect(self, value: bytes, key: bytes | None = None) -> bytes:
        """``value`` (sent with ``key``) must arrive; returns it, to send it in one line."""
        self.sent.append(value)
        self.keys[value] = key
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

    def complete(self) -> bool:
        """Every sent message arrived at least once."""
        return not self.lost

    def overtaken(self) -> list[bytes]:
        """Messages not received although a message of their key sent after them was.

        Where the backend keeps per-key order and nothing is redelivered, these are lost:
        waiting longer cannot bring them (and if it did, they would be out of order).
        """
        got = set(self.received)
        latest: dict[bytes, int] = {}
        for index, value in enumerate(self.sent):
            key = self.keys.get(value)
            if key is not None and value in got:
                latest[key] = index
        return [
            value
            for index, value in enumerate(self.sent)
            if value not in got and latest.get(self.keys.get(value) or b"", -1) > index
        ]

    def name(self, value: bytes) -> str:
        """``#3 b'm3' (key b'k1')``: its place in send order, the body and the key."""
        try:
            where = f"#{self.sent.index(value)} "
        except ValueError:
            where = ""
        key = self.keys.get(value)
        return f"{where}{value!r}" + (f" (key {key!r})" if key is not None else "")

    def names(self, values: Iterable[bytes]) -> str:
        order = {v: i for i, v in enumerate(self.sent)}
        ordered = sorted(values, key=lambda v: (order.get(v, len(order)), v))
        shown = ", ".join(self.name(v) for v in ordered[:SHOWN])
        more = len(ordered) - SHOWN
        return shown + (f" and {more} more" if more > 0 else "")

    def summary(self) -> str:
        return (
            f"sent={len(self.sent)} received={len(self.received)} lost={len(self.lost)} "
            f"unexpected={len(self.unexpected)} duplicates={self.duplicates}"
        )

    def describe(self, *, exactly_once: bool = False) -> str:
        """Expected against seen, in words: who, how many, which are missing, extra, doubled."""
        times = "exactly once each" if exactly_once else "at least once each"
        arrived = len(set(self.sent) & set(self.received))
        parts = [
            f"{self.who} was expected to receive {len(set(self.sent))} message(s) {times}; "
            f"got {arrived} of them"
        ]
        lost = self.lost
        parts.append(f"missing {len(lost)}: {self.names(lost)}" if lost else "missing: none")
        overtaken = self.overtaken()
        if overtaken:
            parts.append(f"{len(overtaken)} of them overtaken by a later message of their key")
        unexpected = self.unexpected
        if unexpected:
            parts.append(f"unexpected {len(unexpected)}: {self.names(unexpected)}")
        doubled = [v for v, n in Counter(self.received).items() if n > 1]
        parts.append(
            f"duplicates: {self.duplicates} ({self.names(doubled)})"
            if doubled
            else "duplicates: none"
        )
        if self.stopped:
            parts.append(self.stopped)
        return "; ".join(parts)

    def assert_complete(self, *, exactly_once: bool = False) -> None:
        """No loss, nothing unexpected; no duplicates only if exactly-once is declared."""
        if self.lost or self.unexpected or (exactly_once and self.duplicates):
            raise AssertionError(self.describe(exactly_once=exactly_once))


def assert_received(
    who: str,
    expected: Iterable[bytes],
    got: Iterable[bytes],
    *,
    keys: dict[bytes, bytes | None] | None = None,
    exactly_once: bool = True,
) -> None:
    """``got`` holds exactly ``expected`` (each once unless ``exactly_once`` is False),
    or fail saying which messages are missing, unexpected or doubled."""
    ledger = Ledger(who)
    for value in expected:
        ledger.expect(value, (keys or {}).get(value))
    for value in got:
        ledger.record(value)
    ledger.assert_complete(exactly_once=exactly_once)


def assert_count(who: str, expected: int, got: Sequence[object], what: str = "message") -> None:
    """``got`` has ``expected`` items, or fail naming who got how many of what."""
    if len(got) != expected:
        raise AssertionError(
            f"{who} was expected to receive {expected} {what}(s); got {len(got)}: "
            f"{[getattr(m, 'body', m) for m in got][:SHOWN]!r}"
        )
