"""Per-partition ack bookkeeping: what may be committed, and what was done beyond it.

Kafka keeps one committed offset per group and partition, so anymq commits only the
contiguous prefix of acked offsets (the *frontier*): an unacked or nacked message is never
skipped by a commit. Acks beyond the frontier are written into the commit's metadata string
(the same idea as Confluent's parallel consumer), so the next owner of the partition skips
what was already done instead of processing it again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

PREFIX = "anymq1:"
#: Kafka's default offset.metadata.max.bytes is 4096.
MAX_METADATA = 4000


def encode_done(done: Iterable[int], frontier: int) -> str:
    """Acked offsets above ``frontier`` as compact relative ranges ("anymq1:1-3,10")."""
    ordered = sorted(o - frontier for o in done if o > frontier)
    if not ordered:
        return ""
    parts: list[str] = []
    size = len(PREFIX)
    start = prev = ordered[0]
    for value in [*ordered[1:], None]:
        if value is not None and value == prev + 1:
            prev = value
            continue
        part = str(start) if start == prev else f"{start}-{prev}"
        size += len(part) + 1
        if size > MAX_METADATA:  # drop the highest: they are redelivered, never lost
            break
        parts.append(part)
        if value is not None:
            start = prev = value
    return PREFIX + ",".join(parts)


def decode_done(metadata: str | None, frontier: int) -> set[int]:
    """The offsets encode_done wrote; anything else (other clients' metadata) is ignored."""
    if not metadata or not metadata.startswith(PREFIX):
        return set()
    out: set[int] = set()
    try:
        for part in metadata[len(PREFIX) :].split(","):
            first, _, last = part.partition("-")
            low = int(first)
            high = int(last) if last else low
            out.update(range(frontier + low, frontier + high + 1))
    except ValueError:
        return set()
    return out


class Track:
    """One partition during one assignment (or until a seek): delivered, acked, frontier.

    A new Track replaces the old one on every assignment and seek; ``live`` turns False
    so settling a message of the old one changes nothing (it will be delivered again to
    whoever owns the partition, which is at-least-once).
    """

    __slots__ = ("acked", "dirty", "live", "next", "pending", "tp")

    def __init__(self, tp: Any, start: int, done: Iterable[int] = ()) -> None:
        self.tp = tp
        self.next = start
        """Offset after the last one fetched: everything below was delivered or skipped."""
        self.pending: deque[int] = deque()
        """Offsets delivered and not yet passed by the frontier, in fetch order."""
        self.acked: set[int] = set(done)
        """Done offsets above the frontier (acked here, or read from commit metadata)."""
        self.live = True
        self.dirty = False

    def fetched(self, offset: int) -> bool:
        """Note a fetched offset; False if it was already done and must not be delivered."""
        self.next = offset + 1
        acked = self.acked
        if acked and offset in acked:
            if self.pending:
                self.pending.append(offset)
            else:
                acked.discard(offset)
                self.dirty = True
            return False
        self.pending.append(offset)
        return True

    def frontier(self) -> int:
        """The offset to commit: the first one not done."""
        return self.pending[0] if self.pending else self.next

    def ack(self, offset: int) -> None:
        pending = self.pending
        if pending and pending[0] == offset:
            pending.popleft()
            acked = self.acked
            while pending and acked and pending[0] in acked:
                acked.discard(pending.popleft())
        else:
            self.acked.add(offset)
        self.dirty = True

    def unsettled(self) -> list[int]:
        """Delivered offsets that are neither acked nor passed."""
        acked = self.acked
        return [o for o in self.pending if o not in acked]

    def commit_point(self) -> tuple[int, str]:
        """(offset, metadata) for an OffsetCommit; forgets done offsets below the frontier."""
        frontier = self.frontier()
        acked = self.acked
        if acked:
            stale = [o for o in acked if o < frontier]
            for o in stale:
                acked.discard(o)
        return frontier, encode_done(acked, frontier)
