"""What the anymq side and every raw client do alike: message layout, drain and ping-pong.

Every body starts with a 16-byte header, the sequence number and the sender's
``perf_counter_ns`` clock (one process, one clock), padded to the workload size. The
rates come from a produce phase (``count`` messages from ``producers`` tasks in batches,
while the group is subscribed but idle) and a drain phase (``consumers`` members empty the
backlog, acking every message). Latency comes from a ping-pong phase: one message is sent,
the next only after a consumer has it, so each figure is one unloaded end-to-end trip.

A plan may change how each phase runs (``send``, ``consume``), run only some phases
(``phases``) and carry backend-specific ``params`` its raw baseline reads: that is how the
named benchmark workloads (``anymq.compare.perf.shapes``) reuse one round per side. The
defaults are the standard workload of ``anymq compare``.
"""

from __future__ import annotations

import asyncio
import gc
import struct
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from anymq.compare.cleanup import Tracker

if TYPE_CHECKING:  # not imported at run time: benchmarks/ab.py loads this module on its own
    from anymq.compare.settings import Workload

_HEADER = struct.Struct(">QQ")
PHASES = ("produce", "consume", "latency")
SENDS = ("batch", "single")
CONSUMES = ("receive", "iterate", "batch")
HEADER_SIZE = _HEADER.size


@dataclass(frozen=True, slots=True)
class Plan:
    """The workload as it runs on one broker (partitions limited to what it has)."""

    size: int
    count: int
    producers: int
    consumers: int
    partitions: int
    batch: int
    prefetch: int
    latency_samples: int
    warmup: int
    phase_timeout: float
    send: str = "batch"
    """"batch": send_batch of ``batch`` messages; "single": one send at a time, each awaited."""
    consume: str = "receive"
    """"receive": receive(prefetch) + ack each; "iterate": ``async for`` + ack each;
    "batch": receive(prefetch) + ack_many (a raw client settles in bulk where it can)."""
    phases: tuple[str, ...] = PHASES
    """Phases this round runs; "consume" implies the produce phase that fills the topic."""
    params: tuple[tuple[str, str], ...] = ()
    """Backend-specific knobs a raw baseline reads (``param``); the anymq side ignores them."""

    def __post_init__(self) -> None:
        if self.send not in SENDS:
            raise ValueError(f"plan send must be one of {SENDS}, got {self.send!r}")
        if self.consume not in CONSUMES:
            raise ValueError(f"plan consume must be one of {CONSUMES}, got {self.consume!r}")
        unknown = set(self.phases) - set(PHASES)
        if unknown or not self.phases:
            raise ValueError(
                f"plan phases must be a non-empty subset of {PHASES}, got {self.phases}"
            )

    def runs(self, phase: str) -> bool:
        """Whether the round runs ``phase`` (consuming needs the backlog produced first)."""
        if phase == "produce":
            return "produce" in self.phases or "consume" in self.phases
        return phase in self.phases

    def param(self, name: str, default: str) -> str:
        return dict(self.params).get(name, default)

    @property
    def drain_count(self) -> int:
        """Messages the drain phase waits for (0 when it does not run: latency only)."""
        return self.count if self.runs("produce") else 0

    @classmethod
    def for_broker(cls, workload: Workload, max_partitions: int, max_batch: int) -> Plan:
        return cls(
            size=workload.size,
            count=workload.count,
            producers=min(workload.producers, workload.count),
            consumers=workload.consumers,
            partitions=max(1, min(workload.partitions, max_partitions)),
            batch=max(1, min(workload.batch, max_batch)),
            prefetch=workload.prefetch,
            latency_samples=workload.latency_samples,
            warmup=min(10, max(1, workload.latency_samples // 10)),
            phase_timeout=workload.phase_timeout,
        )

    def public(self) -> dict[str, Any]:
        return asdict(self)

    def shares(self) -> list[range]:
        """The sequence numbers each producer sends."""
        step, extra = divmod(self.count, self.producers)
        out, start = [], 0
        for i in range(self.producers):
            end = start + step + (1 if i < extra else 0)
            out.append(range(start, end))
            start = end
        return out


@dataclass
class RoundResult:
    """One round of one side."""

    produce_seconds: float
    consume_seconds: float
    latencies_ns: list[int] = field(default_factory=list)
    duplicates: int = 0


class RoundRunner(Protocol):
    """What ``anymq_side`` and every backend's raw-client ``Baseline`` provide."""

    async def __call__(self, url: str, plan: Plan, tracker: Tracker) -> RoundResult: ...


def body(seq: int, size: int, stamp: int = 0) -> bytes:
    """A message body: sequence number, clock, padding to ``size`` bytes."""
    return _HEADER.pack(seq, stamp) + b"." * (size - HEADER_SIZE)


def bodies(seqs: Sequence[int] | range, size: int) -> list[bytes]:
    """Bodies for the produce phase, built before the clock starts."""
    pad = b"." * (size - HEADER_SIZE)
    pack = _HEADER.pack
    return [pack(seq, 0) + pad for seq in seqs]


class Signal:
    """An event a consumer loop sets when a phase is complete, or sets with the loop's error."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.error: BaseException | None = None

    def fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        self.event.set()

    async def wait(self, timeout: float, what: Callable[[], str] | str) -> None:
        """Until set; re-raise a loop's error; TimeoutError saying what was missing."""
        try:
            async with asyncio.timeout(timeout):
                await self.event.wait()
        except TimeoutError:
            text = what if isinstance(what, str) else what()
            raise TimeoutError(f"{text} within {timeout:g}s") from None
        if self.error is not None:
            raise self.error


class Drain(Signal):
    """Counts unique messages of the produce phase as the group drains them."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count
        self.seen = bytearray(count)
        self.unique = 0
        self.duplicates = 0

    def mark(self, data: bytes) -> None:
        seq = _HEADER.unpack_from(data)[0]
        if seq >= self.count:
            return  # a latency-phase message or a stray: not part of the drain
        if self.seen[seq]:
            self.duplicates += 1
            return
        self.seen[seq] = 1
        self.unique += 1
        if self.unique >= self.count:
            self.event.set()

    @property
    def done(self) -> bool:
        return self.unique >= self.count or self.error is not None

    def missing(self) -> str:
        return f"draining: only {self.unique} of {self.count} messages arrived"

    async def timed(self, timeout: float) -> float:
        """Seconds from now until every message arrived."""
        started = time.perf_counter()
        await self.wait(timeout, self.missing)
        return time.perf_counter() - started


class PingPong(Signal):
    """The latency phase: send one message, wait until a consumer has it, repeat."""

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan = plan
        self.first = plan.count  # latency sequence numbers follow the drain's
        self.latencies_ns: list[int] = []
        self.waiting_for = -1

    def seqs(self) -> range:
        total = self.plan.warmup + self.plan.latency_samples
        return range(self.first, self.first + total)

    def expect(self, seq: int) -> None:
        self.waiting_for = seq
        self.event.clear()

    def received(self, data: bytes, now_ns: int) -> None:
        seq, stamp = _HEADER.unpack_from(data)
        if seq != self.waiting_for:
            return  # a redelivered drain message or an old duplicate
        if seq >= self.first + self.plan.warmup:
            self.latencies_ns.append(now_ns - stamp)
        self.waiting_for = -1
        self.event.set()

    async def run(self, send: Callable[[bytes], Awaitable[object]]) -> list[int]:
        """Send each latency message with ``send`` and wait for its arrival."""
        size, timeout = self.plan.size, self.plan.phase_timeout
        gc.collect()  # the produce and drain phases' garbage is not this phase's latency
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        for seq in self.seqs():
            self.expect(seq)
            await send(body(seq, size, time.perf_counter_ns()))
            remaining = deadline - loop.time()
            await self.wait(max(remaining, 0.001), f"latency: message {seq} did not arrive")
        return self.latencies_ns


class Workers:
    """Consumer loops that run until stopped; a loop's error fails the phase it serves."""

    def __init__(self, grace: float = 5.0) -> None:
        self.tasks: list[asyncio.Task[None]] = []
        self.stopped = False
        self.grace = grace
        """Seconds stop() waits for loops to notice; 0 cancels them at once."""

    def start(self, loop: Coroutine[Any, Any, None], signal: Signal) -> None:
        async def guarded() -> None:
            try:
                await loop
            except Exception as exc:
                signal.fail(exc)

        self.tasks.append(asyncio.ensure_future(guarded()))

    async def stop(self) -> None:
        """Ask the loops to end, wait up to ``grace`` seconds, then cancel the stragglers."""
        self.stopped = True
        tasks, self.tasks = self.tasks, []
        if not tasks:
            return
        pending: set[asyncio.Task[None]] | list[asyncio.Task[None]] = tasks
        if self.grace > 0:
            _, pending = await asyncio.wait(tasks, timeout=self.grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> Workers:
        self.stopped = False
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def timed(work: Awaitable[object], timeout: float, what: str) -> float:
    """Seconds ``work`` took; TimeoutError names the phase."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            await work
    except TimeoutError:
        raise TimeoutError(f"{what} took longer than {timeout:g}s") from None
    return time.perf_counter() - started
