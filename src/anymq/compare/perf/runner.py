"""Run the standard workload on one broker through anymq and its raw client, alternating.

Rounds alternate which side goes first (anymq, raw, then raw, anymq, ...) so a broker
warming up or a noisy neighbour does not favour one side; rates are the median round.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass

from anymq import plugins
from anymq.compare.cleanup import Tracker
from anymq.compare.perf import anymq_side
from anymq.compare.perf.workload import Plan, RoundRunner
from anymq.compare.profile import load_baseline, profile_of, version
from anymq.compare.results import Performance, Side
from anymq.compare.settings import Workload
from anymq.compare.targets import Target
from anymq.features import Capabilities, Feature

Step = Callable[[str], None]


@dataclass
class Contender:
    side: Side
    run_round: RoundRunner

    @property
    def failed(self) -> bool:
        return bool(self.side.errors)


def anymq_contender() -> Contender:
    side = Side(f"anymq {version('anymq')}", anymq_side.DESCRIPTION)
    return Contender(side, anymq_side.run_round)


def raw_contender(scheme: str) -> Contender | str:
    """The raw-client workload the scheme's backend declares in its profile, or why none."""
    spec = plugins.backends().get(scheme)
    if spec is None:
        return f"no backend serves {scheme}://, so there is no raw baseline"
    profile = profile_of(spec)
    if profile.baseline is None:
        return f"the {spec.name} backend declares no raw-client baseline (CompareProfile.baseline)"
    try:
        baseline = load_baseline(profile)
    except ImportError as exc:
        hint = f"; pip install 'anymq[{spec.extra}]'" if spec.extra else ""
        return f"the raw baseline cannot be imported ({exc}){hint}"
    label = baseline.client
    if baseline.distribution is not None:
        label += f" {version(baseline.distribution)}"
    return Contender(Side(label, baseline.description, baseline.differs), baseline.run_round)


def plan_for(workload: Workload, capabilities: Capabilities) -> Plan:
    partitions = capabilities.max_partitions if Feature.PARTITIONS in capabilities else 1
    return Plan.for_broker(workload, partitions, capabilities.max_batch)


async def measure(
    target: Target,
    workload: Workload,
    capabilities: Capabilities,
    tracker: Tracker,
    step: Step,
    result: Performance | None = None,
) -> Performance:
    """Both sides, ``workload.rounds`` rounds each; a side stops after its first error.

    Figures go into ``result`` round by round, so an interrupted run keeps what it measured
    (with status "interrupted").
    """
    started = time.perf_counter()
    plan = plan_for(workload, capabilities)
    ours = anymq_contender()
    raw = raw_contender(target.scheme)
    if result is None:
        result = Performance()
    result.status = "interrupted"  # until every round has run
    result.plan = dict(plan.public(), rounds=workload.rounds)
    result.anymq = ours.side
    if isinstance(raw, str):
        result.detail = raw
        contenders = [ours]
    else:
        result.raw = raw.side
        contenders = [ours, raw]
    try:
        for index in range(workload.rounds):
            order = contenders if index % 2 == 0 else contenders[::-1]
            for contender in order:
                step(f"round {index + 1}/{workload.rounds}: {contender.side.client}")
                if not contender.failed:
                    await _round(target, contender, plan, tracker, index)
    finally:
        result.seconds = round(time.perf_counter() - started, 3)
    result.status = "ok"
    if not ours.side.measured:
        result.status = "error"
        result.detail = "; ".join(ours.side.errors) or "anymq side measured nothing"
    elif isinstance(raw, str) or not raw.side.measured:
        result.status = "partial"
        if not isinstance(raw, str):
            result.detail = "; ".join(raw.side.errors) or "the raw client measured nothing"
    return result


async def _round(
    target: Target, contender: Contender, plan: Plan, tracker: Tracker, index: int
) -> None:
    side = contender.side
    gc.collect()  # start each round without the previous round's garbage
    try:
        figures = await contender.run_round(target.url, plan, tracker)
    except Exception as exc:
        side.errors.append(target.redact(f"round {index + 1}: {type(exc).__name__}: {exc}"))
        return
    side.produce_rates.append(plan.count / max(figures.produce_seconds, 1e-9))
    side.consume_rates.append(plan.count / max(figures.consume_seconds, 1e-9))
    side.latencies_ms.extend(ns / 1e6 for ns in figures.latencies_ns)
    side.latency_counts.append(len(figures.latencies_ns))
    side.duplicates += figures.duplicates
