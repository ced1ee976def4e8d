"""What every side of the peer benchmark shares: workloads, message layout and counting."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from anymq.compare.perf.workload import HEADER_SIZE, bodies, body

__all__ = ["HEADER_SIZE", "PeerCountError", "Tally", "Workload", "body", "bodies", "unique"]

SIDES = ("anymq", "faststream", "raw")


class PeerCountError(AssertionError):
    """A side lost a message or delivered one twice: its figure would be meaningless."""


@dataclass(frozen=True, slots=True)
class Workload:
    """One row of the table: what is timed, on which broker, and where the sides differ."""

    name: str
    broker: str  # "kafka" or "rabbitmq"
    kind: str  # "consume-each", "consume-batch", "produce-awaited", "produce-batch"
    size: int
    title: str
    note: str
    scale: float = 1.0  # share of --count this workload sends (awaited sends are slow)
    partitions: int = 1
    batch: int = 500
    prefetch: int = 500
    label: str = ""
    """A short name for the chart (under 20 characters)."""

    def count(self, base: int) -> int:
        return max(2, int(base * self.scale))

    @property
    def timed(self) -> str:
        return "consume" if self.kind.startswith("consume") else "produce"


@dataclass
class Tally:
    """Counts one side's messages by sequence number: unique, duplicates, first and last."""

    count: int
    seen: bytearray = field(init=False)
    unique: int = 0
    duplicates: int = 0
    first: float = 0.0
    last: float = 0.0
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.seen = bytearray(self.count)

    def mark(self, data: bytes) -> None:
        seq = int.from_bytes(data[:8], "big")
        if seq >= self.count or self.seen[seq]:
            self.duplicates += 1
            return
        now = time.perf_counter()
        if not self.unique:
            self.first = now
        self.seen[seq] = 1
        self.unique += 1
        self.last = now
        if self.unique == self.count:
            self.done.set()

    def rate(self) -> float:
        """Messages per second from the first received to the last (count - 1 intervals)."""
        return (self.count - 1) / max(self.last - self.first, 1e-9)

    async def wait(self, timeout: float, side: str) -> None:
        try:
            async with asyncio.timeout(timeout):
                await self.done.wait()
        except TimeoutError:
            raise PeerCountError(
                f"{side}: only {self.unique} of {self.count} messages arrived "
                f"within {timeout:g}s ({self.duplicates} duplicate(s))"
            ) from None

    def check(self, side: str) -> dict[str, int]:
        """Every message exactly once, or PeerCountError; the counts for the report."""
        if self.unique != self.count or self.duplicates:
            raise PeerCountError(
                f"{side}: received {self.unique} unique of {self.count} sent, "
                f"{self.duplicates} duplicate(s)"
            )
        return {"sent": self.count, "received": self.unique, "duplicates": self.duplicates}


async def timed(work: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await work()
    return time.perf_counter() - started


def unique(prefix: str) -> str:
    return f"peer-{prefix}-{uuid.uuid4().hex[:10]}"


SETTLE = 0.3
"""Seconds a side keeps consuming after its last expected message, so a duplicate that
arrives late is still counted."""


async def drain(
    loop: Awaitable[object] | None, tally: Tally, side: str, timeout: float
) -> dict[str, int]:
    """Run a side's consumer ``loop`` (None: the side's framework drives its handler) until
    every message arrived, SETTLE seconds more for late duplicates, then check the count."""
    forever = asyncio.Event()
    task = asyncio.ensure_future(loop if loop is not None else forever.wait())
    waiter = asyncio.ensure_future(tally.wait(timeout, side))
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if task.done() and not waiter.done():
            task.result()  # the loop's own error, if it had one
            raise PeerCountError(f"{side}: the consumer loop ended before every message arrived")
        waiter.result()
        await asyncio.sleep(SETTLE)
    finally:
        for job in (task, waiter):
            job.cancel()
        await asyncio.gather(task, waiter, return_exceptions=True)
    return tally.check(side)


def chunks(items: list[bytes], size: int) -> list[list[bytes]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def key_of(seq: int) -> bytes:
    """The key of the keyed workloads: 100 distinct keys over the partitions."""
    return b"k%d" % (seq % 100)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One side, one round: the timed rate (msg/s) and the verified counts."""

    rate: float
    counts: dict[str, int]


Side = Callable[[str, Workload, int, float], Awaitable[Outcome]]
"""(url, workload, count, timeout) -> Outcome; raises PeerCountError on a miscount."""
