"""Run the named workloads (``shapes``) through anymq and a backend's raw baseline.

Rounds alternate which side goes first, as ``anymq compare`` does; rates are the median
round, latency percentiles come from every sample of a side. ``benchmarks/bench.py`` is the
command line over :func:`run`; ``benchmarks/ab.py`` uses :func:`run_side` in child
processes, one per side and library revision.
"""

from __future__ import annotations

import gc
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from anymq.compare.cleanup import Tracker
from anymq.compare.perf import anymq_side
from anymq.compare.perf.shapes import LABELS, METRICS, Shape, figures, partitioned, standard
from anymq.compare.perf.workload import Plan, RoundRunner

Step = Callable[[str], None]
SIDES = ("anymq", "raw")


@dataclass
class Samples:
    """One side's figures for one shape, over its rounds."""

    rates: dict[str, list[float]] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)

    def add(self, figs: dict[str, Any]) -> None:
        for metric in ("produce", "consume"):
            if metric in figs:
                self.rates.setdefault(metric, []).append(figs[metric])
        self.latencies_ms.extend(figs.get("latencies_ms", ()))

    def value(self, metric: str) -> float:
        if metric in ("p50", "p99"):
            data = sorted(self.latencies_ms)
            if not data:
                return math.nan
            rank = max(1, math.ceil(float(metric[1:]) / 100 * len(data)))
            return data[min(rank, len(data)) - 1]
        values = self.rates.get(metric)
        return statistics.median(values) if values else math.nan

    def values(self, shape: Shape) -> dict[str, float]:
        return {metric: self.value(metric) for metric in shape.metrics}


@dataclass(frozen=True, slots=True)
class Row:
    workload: str
    metric: str
    anymq: float
    raw: float

    @property
    def lower_is_better(self) -> bool:
        return METRICS[self.metric]

    @property
    def ratio(self) -> float:
        """anymq ÷ raw (nan when either side has no figure)."""
        if not (self.raw > 0 and math.isfinite(self.raw) and math.isfinite(self.anymq)):
            return math.nan
        return self.anymq / self.raw

    @property
    def label(self) -> str:
        return LABELS[self.metric]

    def public(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "metric": self.metric,
            "anymq": self.anymq,
            "raw": self.raw,
            "ratio": self.ratio,
            "lower_is_better": self.lower_is_better,
        }


def baseline_for(url: str) -> Any:
    """The raw-client ``Baseline`` the URL's backend declares (imports its client library)."""
    from anymq import URL
    from anymq.compare.profile import for_scheme, load_baseline

    profile = for_scheme(URL.parse(url).scheme)
    if profile is None or profile.baseline is None:
        raise LookupError(f"no installed backend declares a raw baseline for {url}")
    return load_baseline(profile)


def client_loggers(url: str) -> tuple[str, ...]:
    """Loggers of the URL's client libraries (its profile's), to quiet during a run."""
    from anymq import URL
    from anymq.compare.profile import for_scheme

    profile = for_scheme(URL.parse(url).scheme)
    return profile.loggers if profile else ()


def shapes_for(url: str) -> tuple[Shape, ...]:
    """The standard shapes, the optional ones and those the backend's baseline adds."""
    return standard() + partitioned() + tuple(baseline_for(url).workloads)


def base_plan(url: str, *, count: int | None = None, latency_samples: int | None = None) -> Plan:
    """The standard workload as it runs on the URL's broker (the profile's defaults for
    its kind, e.g. a slow broker's smaller count), with ``count`` / ``latency_samples``."""
    import anymq
    from anymq.compare.perf.runner import plan_for
    from anymq.compare.profile import for_scheme
    from anymq.compare.settings import Workload

    profile = for_scheme(anymq.URL.parse(url).scheme)
    fields = {k: v for k, v in (profile.workload if profile else {}).items() if k != "rounds"}
    if count is not None:
        fields["count"] = count
    if latency_samples is not None:
        fields["latency_samples"] = latency_samples
    return plan_for(Workload(**fields), anymq.connect(url).capabilities)


def runner_for(side: str, url: str) -> RoundRunner:
    if side == "anymq":
        return anymq_side.run_round
    runner: RoundRunner = baseline_for(url).run_round
    return runner


async def run_side(
    url: str, side: str, shapes: tuple[Shape, ...], base: Plan, tracker: Tracker, step: Step
) -> dict[str, dict[str, Any]]:
    """One round of every shape on one side: ``{shape: figures}`` (see ``shapes.figures``)."""
    runner = runner_for(side, url)
    out: dict[str, dict[str, Any]] = {}
    for shape in shapes:
        step(f"{shape.name}: {side}")
        plan = shape.plan(base)
        gc.collect()
        out[shape.name] = figures(shape, plan, await runner(url, plan, tracker))
    return out


async def run(
    url: str, shapes: tuple[Shape, ...], base: Plan, rounds: int, step: Step
) -> list[Row]:
    """Every shape, ``rounds`` rounds per side, alternating which side goes first."""
    runners = {side: runner_for(side, url) for side in SIDES}
    tracker = Tracker("anymq-bench")
    rows: list[Row] = []
    try:
        for shape in shapes:
            plan = shape.plan(base)
            samples = {side: Samples() for side in SIDES}
            for index in range(rounds):
                for side in SIDES if index % 2 == 0 else SIDES[::-1]:
                    step(f"{shape.name} round {index + 1}/{rounds}: {side}")
                    gc.collect()
                    result = await runners[side](url, plan, tracker)
                    samples[side].add(figures(shape, plan, result))
            ours, raw = samples["anymq"].values(shape), samples["raw"].values(shape)
            rows.extend(Row(shape.name, m, ours[m], raw[m]) for m in shape.metrics)
    finally:
        await tracker.cleanup()
    return rows
