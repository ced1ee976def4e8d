"""benchmarks/bench.py: every named workload yields a finite anymq ÷ raw ratio, and small
counts finish (the old bench_rabbitmq.py filled its queue in chunks of 1,000, so under
1,000 messages it sent nothing and waited for ever)."""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from anymq.compare.perf import bench
from anymq.compare.perf.shapes import standard

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"


def script(name: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT / "plugins")]))
    return subprocess.run(
        [sys.executable, str(BENCH / name), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


@pytest.mark.memory
def test_every_workload_gives_a_finite_ratio_on_memory() -> None:
    url = "memory://"
    shapes = bench.shapes_for(url)
    base = bench.base_plan(url, count=40, latency_samples=5)
    seen: list[str] = []
    rows = asyncio.run(bench.run(url, shapes, base, 2, seen.append))
    assert {row.workload for row in rows} == {shape.name for shape in shapes}
    assert len(seen) == len(shapes) * 2 * 2  # every shape, both sides, every round
    for row in rows:
        assert math.isfinite(row.ratio), row
        assert row.ratio > 0, row
    assert {row.metric for row in rows} == {"produce", "consume", "p50", "p99"}


@pytest.mark.memory
def test_the_command_writes_a_ratio_per_workload(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = script(
        "bench.py", "memory://", "--count", "30", "--rounds", "1", "--latency-samples", "3",
        "--json", str(out), timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "anymq ÷ raw" in done.stdout
    rows = json.loads(out.read_text())["rows"]
    assert {row["workload"] for row in rows} == {shape.name for shape in standard()}
    assert all(math.isfinite(row["ratio"]) and row["ratio"] > 0 for row in rows)


@pytest.mark.memory
def test_an_unknown_workload_is_refused_with_the_known_names() -> None:
    done = script("bench.py", "memory://", "--workload", "nope", timeout=60)
    assert done.returncode != 0
    assert "produce-batch-100B" in done.stderr


@pytest.mark.rabbitmq
def test_rabbitmq_bench_with_a_tiny_count_finishes(rabbitmq_url: str, tmp_path: Path) -> None:
    """Ran for ever before (``--count 50``: nothing sent, the consume loop waited)."""
    out = tmp_path / "bench.json"
    done = script(
        "bench_rabbitmq.py", "--url", rabbitmq_url, "--count", "50", "--rounds", "1",
        "--json", str(out), timeout=150,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = json.loads(out.read_text())["rows"]
    assert all(math.isfinite(row["ratio"]) for row in rows), rows
