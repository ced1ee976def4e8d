"""The in-memory log: named spaces of topics, each a list of partitions of records.

Offsets are per partition and never reused; retention trims the head of a partition and
moves its base offset, exactly as Kafka deletes old segments.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from anymq.model import Retention
from anymq_memory.group import GroupState

# (offset, timestamp_ms, key, value, headers, size)
Record = tuple[int, int, bytes | None, bytes, dict[str, bytes] | None, int]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Partition:
    """One append-only sequence of records."""

    __slots__ = ("base", "bytes", "index", "records")

    def __init__(self, index: int) -> None:
        self.index = index
        self.records: list[Record] = []
        self.base = 0
        self.bytes = 0

    @property
    def end(self) -> int:
        """The offset the next record will get."""
        return self.base + len(self.records)

    def get(self, offset: int) -> Record | None:
        i = offset - self.base
        if 0 <= i < len(self.records):
            return self.records[i]
        return None

    def offset_for_time(self, ts_ms: int) -> int:
        """First offset stamped at or after ts_ms (end if none)."""
        records = self.records
        lo, hi = 0, len(records)
        while lo < hi:
            mid = (lo + hi) // 2
            if records[mid][1] < ts_ms:
                lo = mid + 1
            else:
                hi = mid
        return self.base + lo

    def trim(self, retention: Retention, now: int) -> None:
        """Drop the oldest records that retention no longer allows."""
        records = self.records
        drop = 0
        if retention.time is not None:
            oldest = now - int(retention.time.total_seconds() * 1000)
            while drop < len(records) and records[drop][1] < oldest:
                drop += 1
        if retention.messages is not None and len(records) - drop > retention.messages:
            drop = len(records) - retention.messages
        size = self.bytes - sum(r[5] for r in records[:drop])
        if retention.bytes is not None:
            while drop < len(records) and size > retention.bytes:
                size -= records[drop][5]
                drop += 1
        if drop:
            del records[:drop]
            self.base += drop
            self.bytes = size


@dataclass(eq=False)
class Topic:
    """A topic: partitions, retention, durable groups and the consumers waiting for data."""

    name: str
    partitions: list[Partition]
    retention: Retention
    created_ms: int = field(default_factory=now_ms)
    groups: dict[str, GroupState] = field(default_factory=dict)
    waiters: list[asyncio.Future[None]] = field(default_factory=list)
    deleted: bool = False
    trims: bool = False
    """True when retention is set, so appends know whether to trim."""

    def __post_init__(self) -> None:
        self.trims = not self.retention.is_default

    def wake(self) -> None:
        """Wake every consumer waiting on this topic (new data, redelivery, rebalance)."""
        waiters, self.waiters = self.waiters, []
        running = asyncio._get_running_loop()
        for fut in waiters:
            if fut.done():
                continue
            loop = fut.get_loop()
            if loop is running:
                fut.set_result(None)
            elif not loop.is_closed():
                loop.call_soon_threadsafe(_resolve, fut)

    def enforce_retention(self) -> None:
        if not self.trims:
            return
        now = now_ms()
        for partition in self.partitions:
            partition.trim(self.retention, now)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


@dataclass(eq=False)
class Space:
    """A named set of topics shared by every broker that opens ``memory://<name>``."""

    name: str
    topics: dict[str, Topic] = field(default_factory=dict)


_spaces: dict[str, Space] = {}


def space(name: str) -> Space:
    """The space called ``name``, created on first use."""
    found = _spaces.get(name)
    if found is None:
        found = _spaces[name] = Space(name)
    return found


def reset(name: str | None = None) -> None:
    """Forget one space (or all): a clean slate for tests."""
    if name is None:
        _spaces.clear()
    else:
        _spaces.pop(name, None)
