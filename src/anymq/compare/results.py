"""What a run found, per broker: reachability, contract outcomes, performance figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from anymq.compare import stats
from anymq.compare.settings import Settings
from anymq.compare.targets import Target
from anymq.features import Capabilities

CellResult = Literal["pass", "fail", "unsupported", "skipped", "not run"]
RunStatus = Literal["ok", "failed", "partial", "error", "interrupted", "not run"]


@dataclass
class TestResult:
    """One contract test on one broker."""

    __test__ = False  # not a pytest class

    name: str
    result: CellResult
    seconds: float = 0.0
    message: str | None = None
    observed: dict[str, object] = field(default_factory=dict)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> TestResult:
        """From a collector line: pytest's outcome plus the suite's anymq_outcome property."""
        properties: dict[str, Any] = {}
        observed: dict[str, object] = {}
        for key, value in record.get("properties", []):
            key = str(key)
            properties[key] = value
            if key.startswith("anymq_observed:"):
                name = key.removeprefix("anymq_observed:")
                if name in observed:  # observed more than once: keep every value
                    before = observed[name]
                    observed[name] = [*(before if isinstance(before, list) else [before]), value]
                else:
                    observed[name] = value
        outcome = record.get("outcome")
        result: CellResult
        if outcome == "failed":
            result = "fail"
        elif outcome == "skipped":
            result = "skipped"
        elif properties.get("anymq_outcome") == "unsupported":
            result = "unsupported"
        else:
            result = "pass"
        return cls(
            name=str(record["name"]),
            result=result,
            seconds=float(record.get("seconds", 0.0)),
            message=record.get("message"),
            observed=observed,
        )


@dataclass
class Behaviour:
    """The contract suite's run on one broker."""

    status: RunStatus = "not run"
    detail: str | None = None
    seconds: float = 0.0
    exit_code: int | None = None
    expected: list[str] = field(default_factory=list)
    """Test names pytest collected (for progress and for rows that never finished)."""
    tests: dict[str, TestResult] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        out = {"pass": 0, "fail": 0, "unsupported": 0, "skipped": 0}
        for test in self.tests.values():
            out[test.result] = out.get(test.result, 0) + 1
        return out


@dataclass
class Side:
    """One side of the performance comparison: anymq, or the raw client on the same broker."""

    client: str
    """Library and version, e.g. ``anymq 0.1.0``, or the baseline's client and its version."""
    description: str
    differs: str = ""
    """Where this (raw) side does other work than anymq: ``Baseline.differs``."""
    produce_rates: list[float] = field(default_factory=list)
    consume_rates: list[float] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    latency_counts: list[int] = field(default_factory=list)
    """Latency samples per round, in order (to tell each round's percentiles apart)."""
    duplicates: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def produce_rate(self) -> float:
        return stats.median(self.produce_rates)

    @property
    def consume_rate(self) -> float:
        return stats.median(self.consume_rates)

    @property
    def measured(self) -> bool:
        return bool(self.produce_rates and self.consume_rates)


@dataclass
class Performance:
    """The standard workload through anymq and the raw client on one broker."""

    status: RunStatus = "not run"
    detail: str | None = None
    seconds: float = 0.0
    plan: dict[str, Any] = field(default_factory=dict)
    anymq: Side | None = None
    raw: Side | None = None

    def ratios(self) -> dict[str, float | None]:
        """anymq / raw for rates (1 = no overhead) and for latencies (1 = just as fast);
        None where a side has no figure or too few samples for the percentile."""
        return {key: detail.value for key, detail in self.ratio_details().items()}

    def ratio_details(self) -> dict[str, Ratio]:
        """Each ratio with its sample size and its spread over rounds."""
        out = {key: Ratio(None, 0, "rounds" if key in RATE_KEYS else "samples") for key in RATIOS}
        ours, raw = self.anymq, self.raw
        if ours is None or raw is None:
            return out
        for key, mine, theirs in (
            ("produce", ours.produce_rates, raw.produce_rates),
            ("consume", ours.consume_rates, raw.consume_rates),
        ):
            out[key] = _rate_ratio(mine, theirs)
        for q in ("p50", "p95", "p99"):
            out[f"latency_{q}"] = _latency_ratio(ours, raw, q)
        return out


RATE_KEYS = ("produce", "consume")
RATIOS = (*RATE_KEYS, "latency_p50", "latency_p95", "latency_p99")


@dataclass
class Ratio:
    """One anymq ÷ raw figure, how many measurements it rests on and how far rounds differ."""

    value: float | None
    n: int
    """Rounds (rates: each side's median round) or samples (latency: the smaller side's)."""
    unit: Literal["rounds", "samples"]
    rounds: list[float] = field(default_factory=list)
    """The same ratio per round (anymq round i ÷ raw round i), where a round has enough."""
    note: str | None = None
    """Why there is no value, or what limits it (e.g. too few samples for p99)."""

    @property
    def low(self) -> float | None:
        return min(self.rounds) if len(self.rounds) > 1 else None

    @property
    def high(self) -> float | None:
        return max(self.rounds) if len(self.rounds) > 1 else None

    def public(self) -> dict[str, Any]:
        def r(value: float | None) -> float | None:
            return round(value, 4) if value is not None else None

        return {
            "value": r(self.value),
            "n": self.n,
            "unit": self.unit,
            "min": r(self.low),
            "max": r(self.high),
            "rounds": [round(v, 4) for v in self.rounds],
            "note": self.note,
        }


def _rate_ratio(mine: list[float], theirs: list[float]) -> Ratio:
    n = min(len(mine), len(theirs))
    if not n:
        return Ratio(None, 0, "rounds")
    paired = [a / b for a, b in zip(mine, theirs, strict=False) if a and b]
    median_ratio = stats.median(mine) / stats.median(theirs) if stats.median(theirs) else None
    note = "one round: no spread to show, run more --rounds" if n == 1 else None
    return Ratio(median_ratio, n, "rounds", paired, note)


def _latency_ratio(ours: Side, raw: Side, q: str) -> Ratio:
    level = float(q[1:])
    n = min(len(ours.latencies_ms), len(raw.latencies_ms))
    if not n:
        return Ratio(None, 0, "samples")
    needed = stats.min_samples(level)
    if n < needed:
        note = f"n={n}, too few for {q} (needs {needed})"
        return Ratio(None, n, "samples", note=note)
    mine, theirs = stats.summary(ours.latencies_ms), stats.summary(raw.latencies_ms)
    value = mine[q] / theirs[q] if mine.get(q) and theirs.get(q) else None
    per_round = []
    for a, b in zip(
        stats.chunks(ours.latencies_ms, ours.latency_counts),
        stats.chunks(raw.latencies_ms, raw.latency_counts),
        strict=False,
    ):
        if min(len(a), len(b)) >= needed:
            pa, pb = stats.summary(a)[q], stats.summary(b)[q]
            if pa and pb:
                per_round.append(pa / pb)
    return Ratio(value, n, "samples", per_round)


@dataclass
class BrokerReport:
    target: Target
    status: Literal["ok", "unreachable", "unavailable"] = "ok"
    reason: str | None = None
    backend: str | None = None
    capabilities: Capabilities | None = None
    behaviour: Behaviour = field(default_factory=Behaviour)
    performance: Performance = field(default_factory=Performance)


@dataclass
class Report:
    settings: Settings
    environment: dict[str, Any]
    started: datetime
    brokers: list[BrokerReport] = field(default_factory=list)
    finished: datetime | None = None
    interrupted: bool = False
    leftovers: list[str] = field(default_factory=list)
    """Things the run created but could not remove (should stay empty)."""
    created: list[str] = field(default_factory=list)
    """What the performance part created (and removed again), e.g. 'anymq topic <name>'."""
    swept: list[str] = field(default_factory=list)
    """Contract-suite topics found after the suite ended and deleted (an interrupt's leftovers)."""
    prefixes: list[str] = field(default_factory=list)
    """Name prefixes of everything this run created on the brokers (topics, queues)."""
