"""Before/after: the same benchmark workloads against two git revisions of anymq, alternately.

    python benchmarks/ab.py [URL] --base d173959 --head HEAD [--rounds 5] [--count N]
                            [--workload NAME ...]

Each revision is checked out once into ``.cache/ab-<sha>`` (``git worktree add``). Only the
anymq library changes between the two: the workloads (``anymq.compare.perf``: shapes,
workload, anymq_side) and the raw baseline always come from this checkout. Every round
runs three child processes in a rotating order: the raw baseline (this checkout), anymq at
``--base`` and anymq at ``--head``; each revision's ratio in a round is its anymq figure
÷ that round's raw figure, and the table shows the median over the rounds per revision.
The anymq side uses only API older revisions have (connect, create/delete_topic,
producer/consumer, send, send_batch, receive, ack, ack_many, iteration).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib.util
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HARNESS = ROOT / "src" / "anymq" / "compare"
#: A timed phase shorter than this is dominated by scheduling noise (20k Kafka messages
#: drain in ~60 ms; the ratio then moved 0.8-1.2 between identical runs).
MIN_PHASE_SECONDS = 0.5


# -- child: one side, one round of every workload, JSON on stdout ------------------------
def overlay_harness() -> None:
    """Run this checkout's workload harness on top of whatever anymq is on sys.path (an
    older revision): its cleanup module replaces the old one and its perf directory is
    searched first, so ``anymq.compare.perf.*`` are this checkout's modules."""
    import anymq.compare.perf as perf

    spec = importlib.util.spec_from_file_location("anymq.compare.cleanup", HARNESS / "cleanup.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    perf.__path__.insert(0, str(HARNESS / "perf"))


def child(side: str, spec_path: Path) -> int:
    if side == "anymq":
        overlay_harness()
    import anymq
    from anymq.compare.cleanup import Tracker
    from anymq.compare.perf import bench
    from anymq.compare.perf.shapes import Shape
    from anymq.compare.perf.workload import Plan

    spec = json.loads(spec_path.read_text())
    plan = spec["plan"]
    plan["phases"] = tuple(plan["phases"])
    plan["params"] = tuple(tuple(pair) for pair in plan["params"])
    base = Plan(**plan)
    shapes = tuple(Shape.from_public(data) for data in spec["shapes"])

    async def run() -> dict[str, dict[str, Any]]:
        tracker = Tracker("anymq-ab")
        try:
            return await bench.run_side(spec["url"], side, shapes, base, tracker, lambda _: None)
        finally:
            await tracker.cleanup()

    figures = asyncio.run(run())
    print(json.dumps({"anymq": str(Path(anymq.__file__).parent), "figures": figures}))
    return 0


# -- parent ---------------------------------------------------------------------------
def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()


def checkout(rev: str) -> Path:
    """A worktree of ``rev`` under .cache (made once, reused)."""
    sha = git("rev-parse", "--verify", f"{rev}^{{commit}}")
    path = ROOT / ".cache" / f"ab-{sha[:12]}"
    if not (path / "src" / "anymq").is_dir():
        git("worktree", "add", "--detach", str(path), sha)
    return path


def run_child(side: str, library: Path, spec: Path, timeout: float) -> dict[str, Any]:
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(library / "src"), str(library / "plugins")])
    )
    done = subprocess.run(
        [sys.executable, __file__, "--child", side, "--spec", str(spec)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{side} at {library} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if Path(result["anymq"]).resolve() != (library / "src" / "anymq").resolve():
        raise RuntimeError(f"{side} imported anymq from {result['anymq']}, not {library}")
    return result["figures"]


def value(figs: dict[str, Any], metric: str) -> float:
    if metric in ("p50", "p99"):
        data = sorted(figs.get("latencies_ms", ()))
        if not data:
            return math.nan
        rank = max(1, math.ceil(float(metric[1:]) / 100 * len(data)))
        return float(data[min(rank, len(data)) - 1])
    return float(figs.get(metric, math.nan))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("url", nargs="?", default="memory://")
    parser.add_argument("--base", default="d173959", help="the 'before' revision")
    parser.add_argument("--head", default="HEAD", help="the 'after' revision")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--count", type=int)
    parser.add_argument("--latency-samples", type=int)
    parser.add_argument("--workload", action="append")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per child")
    parser.add_argument("--json", type=Path, help="write every round's figures here")
    parser.add_argument("--child", choices=["anymq", "raw"], help=argparse.SUPPRESS)
    parser.add_argument("--spec", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child, args.spec)

    sys.path[:0] = [str(ROOT / "src"), str(ROOT / "plugins")]
    from rich.console import Console
    from rich.table import Table

    from anymq.compare.perf import bench
    from anymq.compare.perf.shapes import LABELS, METRICS, select

    console = Console()
    shapes = select(bench.shapes_for(args.url), args.workload)
    base = bench.base_plan(args.url, count=args.count, latency_samples=args.latency_samples)
    revisions = {"base": (args.base, checkout(args.base)), "head": (args.head, checkout(args.head))}
    sides = [("raw", ROOT), *((name, path) for name, (_, path) in revisions.items())]
    rounds: list[dict[str, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "spec.json"
        spec.write_text(
            json.dumps(
                {
                    "url": args.url,
                    "plan": dataclasses.asdict(base),
                    "shapes": [s.public() for s in shapes],
                }
            )
        )
        for index in range(args.rounds):
            shift = index % len(sides)
            order = sides[shift:] + sides[:shift]
            this: dict[str, dict[str, Any]] = {}
            for name, library in order:
                console.print(f"round {index + 1}/{args.rounds}: {name}", style="dim")
                side = "raw" if name == "raw" else "anymq"
                this[name] = run_child(side, library, spec, args.timeout)
            rounds.append(this)

    table = Table(title=f"anymq ÷ raw per revision, median (min..max) of {args.rounds} round(s)")
    for column in ("workload", "figure", f"base {args.base}", f"head {args.head}", "head vs base"):
        table.add_column(column, justify="left" if column in ("workload", "figure") else "right")
    rows = []
    short: list[str] = []
    for shape in shapes:
        count = shape.plan(base).count
        for metric in shape.metrics:
            medians, spans = {}, {}
            for name in revisions:
                ratios = [
                    value(r[name][shape.name], metric) / value(r["raw"][shape.name], metric)
                    for r in rounds
                ]
                ratios = [x for x in ratios if math.isfinite(x)]
                medians[name] = statistics.median(ratios) if ratios else math.nan
                spans[name] = (min(ratios), max(ratios)) if ratios else (math.nan, math.nan)
                if metric in ("produce", "consume"):
                    rates = [value(r[name][shape.name], metric) for r in rounds]
                    seconds = statistics.median(count / x for x in rates if x > 0)
                    if seconds < MIN_PHASE_SECONDS:
                        short.append(f"{shape.name} {metric} ({name}): {seconds * 1000:.0f} ms")
            b, h = medians["base"], medians["head"]
            lower = METRICS[metric]
            change = (b / h) if lower else (h / b)  # > 1: head is better
            overlap = spans["base"][0] <= spans["head"][1] and spans["head"][0] <= spans["base"][1]
            verdict = f"{change:.2f}" + (
                " (ranges overlap)" if overlap else " worse" if change < 1 else " better"
            )
            table.add_row(
                shape.name,
                LABELS[metric],
                f"{b:.2f} ({spans['base'][0]:.2f}..{spans['base'][1]:.2f})",
                f"{h:.2f} ({spans['head'][0]:.2f}..{spans['head'][1]:.2f})",
                verdict,
            )
            rows.append(
                {
                    "workload": shape.name,
                    "metric": metric,
                    "base": b,
                    "head": h,
                    "base_range": spans["base"],
                    "head_range": spans["head"],
                }
            )
    console.print(table)
    console.print(
        "ratios: anymq ÷ raw (rates: higher is better; latencies: lower is better); "
        "head vs base > 1: head is better; overlapping ranges: not a measured difference"
    )
    if short:
        console.print(
            f"[yellow]too short to measure (under {MIN_PHASE_SECONDS:g} s a phase is mostly "
            "noise; raise --count):[/] " + "; ".join(short)
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"rows": rows, "rounds": rounds}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
