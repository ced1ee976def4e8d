"""The peer benchmark's loop: workloads x rounds x sides, rotating which side goes first."""

from __future__ import annotations

import gc
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks.peer.common import SIDES, Side, Workload

import anymq


def broker_of(url: str) -> str:
    scheme = anymq.URL.parse(url).scheme
    if scheme.startswith("kafka"):
        return "kafka"
    if scheme.startswith("amqp"):
        return "rabbitmq"
    raise ValueError(f"the peer benchmark runs on kafka:// and amqp:// URLs, not {url}")


def plan(url: str) -> tuple[tuple[Workload, ...], dict[str, Side]]:
    """The workloads and the three sides for the URL's broker (imports its clients)."""
    if broker_of(url) == "kafka":
        from benchmarks.peer import kafka as module
    else:
        from benchmarks.peer import rabbitmq as module  # type: ignore[no-redef]
    return module.workloads(), module.SIDES


def select(workloads: tuple[Workload, ...], names: list[str] | None) -> tuple[Workload, ...]:
    if not names:
        return workloads
    chosen = tuple(w for w in workloads if any(w.name.startswith(n) for n in names))
    if not chosen:
        known = ", ".join(w.name for w in workloads)
        raise ValueError(f"no workload matches {', '.join(names)}; known: {known}")
    return chosen


@dataclass
class Row:
    """One workload: every side's rate per round and the verified counts."""

    url: str
    workload: Workload
    count: int
    rates: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in SIDES})
    counts: dict[str, list[dict[str, int]]] = field(default_factory=lambda: {s: [] for s in SIDES})

    def ratios(self, other: str) -> list[float]:
        """anymq ÷ ``other`` per round (the sides of one round ran back to back)."""
        return [a / b for a, b in zip(self.rates["anymq"], self.rates[other], strict=True) if b]

    def spread(self, other: str) -> tuple[float, float, float]:
        """(median, min, max) of anymq ÷ ``other`` over the rounds."""
        values = self.ratios(other)
        if not values:
            return (math.nan, math.nan, math.nan)
        return (statistics.median(values), min(values), max(values))

    def median(self, side: str) -> float:
        return statistics.median(self.rates[side]) if self.rates[side] else math.nan

    def public(self) -> dict[str, Any]:
        return {
            "url": anymq.URL.parse(self.url).render(),
            "workload": self.workload.name,
            "title": self.workload.title,
            "timed": self.workload.timed,
            "size": self.workload.size,
            "partitions": self.workload.partitions,
            "count": self.count,
            "note": self.workload.note,
            "rates": self.rates,
            "counts": self.counts,
            "anymq_vs_raw": dict(zip(("median", "min", "max"), self.spread("raw"), strict=True)),
            "anymq_vs_faststream": dict(
                zip(("median", "min", "max"), self.spread("faststream"), strict=True)
            ),
        }


async def run(
    url: str,
    workloads: tuple[Workload, ...],
    sides: dict[str, Side],
    *,
    count: int,
    rounds: int,
    timeout: float,
    step: Callable[[str], None],
) -> list[Row]:
    """Every workload, ``rounds`` rounds; round r starts with side r mod 3."""
    rows = []
    for workload in workloads:
        row = Row(url, workload, workload.count(count))
        for index in range(rounds):
            shift = index % len(SIDES)
            for side in SIDES[shift:] + SIDES[:shift]:
                step(f"{workload.name} round {index + 1}/{rounds}: {side}")
                gc.collect()
                outcome = await sides[side](url, workload, row.count, timeout)
                row.rates[side].append(outcome.rate)
                row.counts[side].append(outcome.counts)
        rows.append(row)
    return rows
