"""The named benchmark workloads: one-round variants of the standard workload.

Each shape changes a few fields of the base :class:`~anymq.compare.perf.workload.Plan`
(body size, send path, consume path, which phases run, backend params) and names the
figures it reports. ``benchmarks/bench.py`` runs them through anymq and through the
backend's raw baseline, so anymq ÷ raw is measured on the same broker in the same run.
A backend adds its own shapes with ``Baseline.workloads`` (e.g. a raw route only that
broker has, taken the way anymq takes it). Only this module, ``workload`` and ``anymq_side``
run on the anymq side, so ``benchmarks/ab.py`` can load them next to an older anymq.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from anymq.compare.perf.workload import Plan, RoundResult

#: Figure name -> True when lower is better (latencies), False for rates.
METRICS = {"produce": False, "consume": False, "p50": True, "p99": True}
LABELS = {
    "produce": "produce msg/s",
    "consume": "consume msg/s",
    "p50": "latency p50",
    "p99": "latency p99",
}


@dataclass(frozen=True, slots=True)
class Shape:
    """A named workload: how it changes the base plan and which figures it reports."""

    name: str
    description: str
    metrics: tuple[str, ...]
    phases: tuple[str, ...]
    size: int = 1024
    send: str = "batch"
    consume: str = "receive"
    scale: float = 1.0
    """Share of the base count this shape sends (one-at-a-time sends are slow)."""
    producers: int | None = None
    """Producers (None: the base plan's)."""
    params: tuple[tuple[str, str], ...] = ()
    partitions: int | None = None
    """Partitions of the topic (None: the base plan's, i.e. the settings' count where the
    broker has partitions, else 1); never more than the base plan's."""
    default: bool = True
    """Whether a run that names no workload includes this shape."""

    def plan(self, base: Plan) -> Plan:
        count = max(1, int(base.count * self.scale))
        producers = min(self.producers or base.producers, count)
        partitions = min(self.partitions or base.partitions, base.partitions)
        return dataclasses.replace(
            base,
            size=self.size,
            count=count,
            producers=producers,
            partitions=partitions,
            send=self.send,
            consume=self.consume,
            phases=self.phases,
            params=self.params,
        )

    def public(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_public(cls, data: dict[str, Any]) -> Shape:
        fixed: dict[str, Any] = dict(data)
        for name in ("metrics", "phases"):
            fixed[name] = tuple(data[name])
        fixed["params"] = tuple((str(k), str(v)) for k, v in data.get("params", ()))
        return cls(**fixed)


def _sizes() -> list[tuple[str, int]]:
    return [("100B", 100), ("1KiB", 1024)]


def standard() -> tuple[Shape, ...]:
    """The shapes every backend runs (the old per-backend scripts' workloads, generic)."""
    out: list[Shape] = []
    for label, size in _sizes():
        out.append(
            Shape(
                f"produce-batch-{label}",
                f"send_batch of `batch` messages, {label}",
                ("produce",),
                ("produce",),
                size=size,
            )
        )
        out.append(
            Shape(
                f"produce-single-{label}",
                f"one producer, one send at a time, each awaited, {label}",
                ("produce",),
                ("produce",),
                size=size,
                send="single",
                scale=0.1,
                producers=1,
            )
        )
        out.append(
            Shape(
                f"consume-each-{label}",
                f"drain a backlog: async for + ack() per message, {label}",
                ("consume",),
                ("consume",),
                size=size,
                consume="iterate",
            )
        )
        out.append(
            Shape(
                f"consume-many-{label}",
                f"drain a backlog: receive(prefetch) + ack_many, {label}",
                ("consume",),
                ("consume",),
                size=size,
                consume="batch",
            )
        )
    out.append(
        Shape(
            "latency-1KiB",
            "one message at a time, the next after it arrived: end-to-end p50 / p99",
            ("p50", "p99"),
            ("latency",),
        )
    )
    return tuple(out)


def partitioned() -> tuple[Shape, ...]:
    """One workload on a plain topic and on a partitioned one: what partitions cost (or
    gain) on each broker, for anymq and for the raw client. Not in the default set (the
    partitioned one repeats the standard plan); ``--workload topic`` runs both."""
    description = "send_batch, then the group drains it (receive + ack each), 1KiB, on"
    return tuple(
        Shape(
            f"topic-{label}-1KiB",
            f"{description} {what}",
            ("produce", "consume"),
            ("consume",),
            partitions=partitions,
            default=False,
        )
        for label, partitions, what in (
            ("plain", 1, "a topic of 1 partition"),
            ("partitioned", None, "the settings' partitions (4; 1 where the broker has none)"),
        )
    )


def select(shapes: tuple[Shape, ...], names: list[str] | None) -> tuple[Shape, ...]:
    """The shapes named (each name or a prefix such as ``consume``), the default ones when
    None."""
    if not names:
        return tuple(s for s in shapes if s.default)
    chosen = [s for s in shapes if any(s.name == n or s.name.startswith(n) for n in names)]
    if not chosen:
        known = ", ".join(s.name for s in shapes)
        raise ValueError(f"no workload matches {', '.join(names)}; known: {known}")
    return tuple(chosen)


def figures(shape: Shape, plan: Plan, result: RoundResult) -> dict[str, Any]:
    """The raw figures of one round: rates per second, latency samples in ms."""
    out: dict[str, Any] = {}
    if "produce" in shape.metrics:
        out["produce"] = plan.count / max(result.produce_seconds, 1e-9)
    if "consume" in shape.metrics:
        out["consume"] = plan.count / max(result.consume_seconds, 1e-9)
    if {"p50", "p99"} & set(shape.metrics):
        out["latencies_ms"] = [ns / 1e6 for ns in result.latencies_ns]
    return out
