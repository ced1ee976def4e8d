"""Shared benchmark helpers: time a workload, compare anymq to the raw client, show ratios.

Benchmarks run the anymq path and the raw client path on the same broker in the same run,
alternating rounds, and report ratios (anymq / raw) rather than absolute times, which
depend on the machine. The standard workload of every backend (also a third-party one) is
``anymq compare --no-behaviour URL``; these scripts add per-backend workloads, and their
raw clients connect through the same baselines (``anymq_<name>.baseline``) as compare's.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table


@dataclass
class Result:
    name: str
    rates: list[float] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return statistics.median(self.rates) if self.rates else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return 0.0
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(q / 100 * len(data)))]


async def alternate(
    rounds: int,
    ours: Callable[..., Awaitable[float]],
    raw: Callable[..., Awaitable[float]],
    *args: Any,
) -> tuple[Result, Result]:
    """Run ``ours(*args)`` and ``raw(*args)`` ``rounds`` times each, swapping which goes
    first every round, so drift on a shared machine hits both sides alike."""
    mine, theirs = Result("anymq"), Result("raw")
    order = [(mine, ours), (theirs, raw)]
    for index in range(rounds):
        for result, work in order if index % 2 == 0 else order[::-1]:
            result.rates.append(await work(*args))
    return mine, theirs


async def ack_each_rate(consumer: Any, count: int) -> float:
    """Messages per second for ``async for`` + ``ack()`` of ``count`` messages (the
    single-message consume path every bench measures)."""
    started = time.perf_counter()
    seen = 0
    async for msg in consumer:
        await msg.ack()
        seen += 1
        if seen >= count:
            break
    return seen / (time.perf_counter() - started)


async def ping_latencies(
    consumer: Any, producer: Any, topic: str, count: int, *, gap: float, timeout: float
) -> tuple[list[float], float]:
    """End-to-end milliseconds of ``count`` messages sent one at a time (``gap`` seconds
    apart) and received by ``consumer``, and the rate from the first send to the last
    receive. Each body is the sender's ``perf_counter`` clock (one process, one clock)."""
    out: list[float] = []

    async def consume() -> None:
        async for msg in consumer:
            out.append((time.perf_counter() - float(msg.value)) * 1000)
            await msg.ack()
            if len(out) >= count:
                return

    task = asyncio.get_running_loop().create_task(consume())
    started = time.perf_counter()
    for _ in range(count):
        await producer.send(topic, repr(time.perf_counter()).encode())
        await asyncio.sleep(gap)
    await asyncio.wait_for(task, timeout)
    return out, count / (time.perf_counter() - started)


async def timed(count: int, work: Callable[[], Awaitable[None]]) -> float:
    """Messages per second for ``work``, which handles ``count`` messages."""
    started = time.perf_counter()
    await work()
    return count / (time.perf_counter() - started)


def ratio_table(
    title: str, pairs: list[tuple[str, Result, Result]], console: Console | None = None
) -> list[dict[str, object]]:
    """Print anymq vs raw as a rich table; return the rows (with every round) for JSON."""
    table = Table(title=title)
    for column in (
        "workload",
        "anymq msg/s",
        "raw msg/s",
        "ratio anymq/raw",
        "p50 ratio",
        "p99 ratio",
    ):
        table.add_column(column, justify="right" if column != "workload" else "left")
    rows: list[dict[str, object]] = []
    for workload, ours, raw in pairs:
        ratio = ours.rate / raw.rate if raw.rate else 0.0
        p50 = ours.percentile(50) / raw.percentile(50) if raw.percentile(50) else 0.0
        p99 = ours.percentile(99) / raw.percentile(99) if raw.percentile(99) else 0.0
        table.add_row(
            workload,
            f"{ours.rate:,.0f}",
            f"{raw.rate:,.0f}",
            f"{ratio:.2f}",
            f"{p50:.2f}" if p50 else "-",
            f"{p99:.2f}" if p99 else "-",
        )
        row: dict[str, object] = {
            "workload": workload,
            "anymq": ours.rate,
            "raw": raw.rate,
            "ratio": ratio,
            "p50_ratio": p50,
            "p99_ratio": p99,
            "anymq_rounds": ours.rates,
            "raw_rounds": raw.rates,
        }
        if ours.latencies_ms:
            row.update(
                anymq_p50_ms=ours.percentile(50),
                anymq_p99_ms=ours.percentile(99),
                raw_p50_ms=raw.percentile(50),
                raw_p99_ms=raw.percentile(99),
            )
        rows.append(row)
    (console or Console()).print(table)
    return rows
