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
    produce_rates: list[float] = field(default_factory=list)
    consume_rates: list[float] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
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
        """anymq / raw for rates (1 = no overhead) and for latencies (1 = just as fast)."""
        ours, raw = self.anymq, self.raw
        out: dict[str, float | None] = {
            "produce": None,
            "consume": None,
            "latency_p50": None,
            "latency_p95": None,
            "latency_p99": None,
        }
        if ours is None or raw is None:
            return out
        if ours.produce_rate and raw.produce_rate:
            out["produce"] = ours.produce_rate / raw.produce_rate
        if ours.consume_rate and raw.consume_rate:
            out["consume"] = ours.consume_rate / raw.consume_rate
        mine, theirs = stats.summary(ours.latencies_ms), stats.summary(raw.latencies_ms)
        for q in ("p50", "p95", "p99"):
            if mine.get(q) and theirs.get(q):
                out[f"latency_{q}"] = mine[q] / theirs[q]
        return out


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
