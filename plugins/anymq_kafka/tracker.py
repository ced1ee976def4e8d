"""Per-partition ack bookkeeping: what may be committed, and what was done beyond it.

Kafka keeps one committed offset per group and partition, so anymq commits only the
contiguous prefix of acked offsets (the *frontier*): an unacked or nacked message is never
skipped by a commit. Acks beyond the frontier are written into the commit's metadata string
(the same idea as Confluent's parallel consumer), so the next owner of the partition skips
what was already done instead of processing it again; the delivery counts of messages still
in flight go there too, so a message handed over keeps counting its deliveries.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

PREFIX = "anymq1:"
#: Kafka's default offset.metadata.max.bytes is 4096.
MAX_METADATA = 4000


def _ranges(values: list[int], budget: int) -> tuple[list[str], int]:
    """Sorted ints as "a-b" / "a" parts, as many as fit in ``budget`` characters."""
    parts: list[str] = []
    if not values:
        return parts, budget
    start = prev = values[0]
    for value in [*values[1:], None]:
        if value is not None and value == prev + 1:
            prev = value
            continue
        part = str(start) if start == prev else f"{start}-{prev}"
        if len(part) + 1 > budget:  # drop the rest: redelivered (or counted) again, never lost
            break
        budget -= len(part) + 1
        parts.append(part)
        if value is not None:
            start = prev = value
    return parts, budget


def encode(done: Iterable[int], counts: Mapping[int, int], frontier: int) -> str:
    """Commit metadata: acked offsets above the frontier, and how often unsettled ones
    were delivered, relative to the frontier ("anymq1:1-3,10/2@0;1@4-9")."""
    above = sorted(o - frontier for o in done if o > frontier)
    if not above and not counts:
        return ""
    parts, budget = _ranges(above, MAX_METADATA - len(PREFIX))
    text = PREFIX + ",".join(parts)
    by_count: dict[int, list[int]] = {}
    for offset, count in counts.items():
        if offset >= frontier:
            by_count.setdefault(count, []).append(offset - frontier)
    groups: list[str] = []
    budget -= 1
    for count in sorted(by_count, reverse=True):
        head = f"{count}@"
        ranges, left = _ranges(sorted(by_count[count]), budget - len(head) - 1)
        if not ranges:
            break
        groups.append(head + ",".join(ranges))
        budget = left
    if groups:
        text += "/" + ";".join(groups)
    return text


def decode(metadata: str | None, frontier: int) -> tuple[set[int], dict[int, int]]:
    """(done offsets, delivery counts) that :func:`encode` wrote; other metadata is ignored."""
    if not metadata or not metadata.startswith(PREFIX):
        return set(), {}
    done_text, _, count_text = metadata[len(PREFIX) :].partition("/")
    try:
        done = _parse(done_text, frontier)
        counts: dict[int, int] = {}
        for group in filter(None, count_text.split(";")):
            count, _, ranges = group.partition("@")
            for offset in _parse(ranges, frontier):
                counts[offset] = int(count)
    except ValueError:
        return set(), {}
    return done, counts


def _parse(text: str, frontier: int) -> set[int]:
    out: set[int] = set()
    for part in filter(None, text.split(",")):
        first, _, last = part.partition("-")
        low = int(first)
        high = int(last) if last else low
        out.update(range(frontier + low, frontier + high + 1))
    return out


def decode_done(metadata: str | None, frontier: int) -> set[int]:
    """The done offsets of commit metadata (see :func:`encode`)."""
    return decode(metadata, frontier)[0]


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

    def commit_point(self, counts: Mapping[int, int] | None) -> tuple[int, str]:
        """(offset, metadata) for an OffsetCommit: the frontier, done offsets above it, and
        the delivery counts of unsettled messages (so the next owner keeps counting)."""
        frontier = self.frontier()
        acked = self.acked
        if acked:
            stale = [o for o in acked if o < frontier]
            for o in stale:
                acked.discard(o)
        counts = counts or {}
        delivered = {o: counts.get(o, 1) for o in self.pending if o not in acked}
        return frontier, encode(acked, delivered, frontier)
