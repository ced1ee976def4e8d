"""The report as one JSON document: every figure, the settings and the environment.

The terminal tables and the HTML page are both drawn from this document, so what you
see is exactly what the file holds. URLs appear only as ``anymq.URL.render()`` shows them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from anymq.compare import semantics, stats
from anymq.compare.results import BrokerReport, Performance, Report, Side

SCHEMA = "anymq-compare/1"
HISTOGRAM_BINS = 20


def build(report: Report) -> dict[str, Any]:
    """The JSON document for a (possibly partial) report."""
    finished = report.finished
    return {
        "schema": SCHEMA,
        "started": report.started.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds") if finished else None,
        "seconds": round((finished - report.started).total_seconds(), 3) if finished else None,
        "interrupted": report.interrupted,
        "leftovers": list(report.leftovers),
        "prefixes": list(report.prefixes),
        "created": list(report.created),
        "swept": list(report.swept),
        "environment": report.environment,
        "settings": report.settings.public(),
        "brokers": [_broker(b) for b in report.brokers],
        "semantics": _semantics(report),
    }


def write(document: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")


def _broker(broker: BrokerReport) -> dict[str, Any]:
    caps = broker.capabilities
    behaviour = broker.behaviour
    return {
        "id": broker.target.id,
        "url": broker.target.shown,
        "kind": broker.target.kind,
        "status": broker.status,
        "reason": broker.reason,
        "backend": broker.backend,
        "capabilities": None
        if caps is None
        else {
            "features": sorted(str(f) for f in caps.features),
            "max_message_bytes": caps.max_message_bytes,
            "max_batch": caps.max_batch,
            "max_headers": caps.max_headers,
            "max_partitions": caps.max_partitions,
        },
        "behaviour": {
            "status": behaviour.status,
            "detail": behaviour.detail,
            "seconds": behaviour.seconds,
            "exit_code": behaviour.exit_code,
            "counts": behaviour.counts(),
        },
        "performance": _performance(broker.performance),
    }


def _performance(perf: Performance) -> dict[str, Any]:
    sides = [s for s in (perf.anymq, perf.raw) if s is not None]
    latencies = [v for s in sides for v in s.latencies_ms if v > 0]
    edges = stats.log_edges(min(latencies), max(latencies), HISTOGRAM_BINS) if latencies else []
    return {
        "status": perf.status,
        "detail": perf.detail,
        "seconds": perf.seconds,
        "workload": perf.plan,
        "histogram_edges_ms": [round(e, 6) for e in edges],
        "anymq": _side(perf.anymq, edges),
        "raw": _side(perf.raw, edges),
        "ratios": {k: (round(v, 4) if v is not None else None) for k, v in perf.ratios().items()},
        "ratio_detail": {k: v.public() for k, v in perf.ratio_details().items()},
    }


def _side(side: Side | None, edges: list[float]) -> dict[str, Any] | None:
    if side is None:
        return None
    return {
        "client": side.client,
        "description": side.description,
        "differs": side.differs,
        "produce_rate": round(side.produce_rate, 1),
        "consume_rate": round(side.consume_rate, 1),
        "produce_rates": [round(r, 1) for r in side.produce_rates],
        "consume_rates": [round(r, 1) for r in side.consume_rates],
        "latency_ms": {k: round(v, 4) for k, v in stats.summary(side.latencies_ms).items()},
        "latency_histogram": stats.histogram(side.latencies_ms, edges) if edges else [],
        "latency_samples_ms": [round(v, 4) for v in side.latencies_ms],
        "latency_counts": list(side.latency_counts),
        "duplicates": side.duplicates,
        "errors": side.errors,
    }


def _semantics(report: Report) -> list[dict[str, Any]]:
    needs = semantics.requirements()  # every test of the installed suite
    seen: list[str] = list(needs)
    for broker in report.brokers:
        seen += [*broker.behaviour.expected, *broker.behaviour.tests]
    rows = []
    for row in semantics.ordered(seen):
        cells: dict[str, Any] = {}
        for broker in report.brokers:
            cells[broker.target.id] = _cell(broker, row.test)
        rows.append(
            {
                "test": row.test,
                "label": row.label,
                "category": row.category,
                "explain": row.explain,
                "requires": needs.get(row.test, []),
                "cells": cells,
            }
        )
    return rows


def _cell(broker: BrokerReport, test: str) -> dict[str, Any]:
    found = broker.behaviour.tests.get(test)
    if found is None:
        why: str
        if broker.status != "ok":
            why = broker.status
        elif broker.behaviour.status == "not run":
            why = "behaviour not run"
        elif broker.behaviour.status == "interrupted":
            why = "interrupted"
        else:
            why = broker.behaviour.detail or "no result"
        return {"result": "not run", "why": why, "observed": {}, "notes": []}
    return {
        "result": found.result,
        "seconds": found.seconds,
        "message": found.message,
        "observed": found.observed,
        "notes": [semantics.describe(k, v) for k, v in found.observed.items()],
    }
