"""anymq against a backend's raw client on the same broker, workload by workload.

    python benchmarks/bench.py [URL] [--count N] [--rounds R] [--workload NAME ...]

URL defaults to memory://. The workloads (``--list`` shows them) come from
``anymq.compare.perf.shapes``: produce with send_batch and one send at a time, consume with
ack per message and with receive + ack_many, 100 B and 1 KiB bodies, end-to-end latency,
plus any the backend's raw baseline adds. anymq and the raw client alternate round by
round; the headline is anymq ÷ raw (rates: higher is better; latencies: lower is better).
``--workload topic`` (not in the default set) runs one workload on a plain and on a
partitioned topic and adds partitioned ÷ plain for each side. Absolute figures go to the
JSON file (--json).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import anymq
from anymq.compare.perf import bench
from anymq.compare.perf.shapes import select

ROOT = Path(__file__).resolve().parent.parent


def parser(default_url: str = "memory://") -> argparse.ArgumentParser:
    out = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    out.add_argument("url", nargs="?", help=f"broker URL (default {default_url})")
    out.add_argument("--url", dest="url_option", help="the same as the positional URL")
    out.add_argument("--count", type=int, help="messages per round (default: the profile's)")
    out.add_argument("--latency-samples", type=int, help="messages in the latency workload")
    out.add_argument("--rounds", type=int, default=3, help="rounds per side (default 3)")
    out.add_argument(
        "--workload", action="append", help="run only these workloads (name or prefix)"
    )
    out.add_argument("--json", type=Path, help="write every figure here")
    out.add_argument("--list", action="store_true", help="list the workloads and exit")
    out.set_defaults(default_url=default_url)
    return out


def ratio_text(row: bench.Row) -> str:
    ratio = row.ratio
    if not math.isfinite(ratio):
        return "-"
    good = ratio <= 1.1 if row.lower_is_better else ratio >= 0.9
    return f"[{'green' if good else 'yellow'}]{ratio:.2f}x[/]"


def table(url: str, rows: list[bench.Row], rounds: int) -> Table:
    out = Table(
        title=f"anymq ÷ raw client on {anymq.URL.parse(url).render()} ({rounds} round(s) per side)",
        caption="rates: higher is better (1.00x = the raw client's rate); "
        "latencies: lower is better",
    )
    out.add_column("workload")
    out.add_column("figure")
    out.add_column("anymq ÷ raw", justify="right")
    out.add_column("better", justify="center")
    for row in rows:
        out.add_row(
            row.workload, row.label, ratio_text(row), "lower" if row.lower_is_better else "higher"
        )
    return out


def partition_table(rows: list[bench.Row]) -> Table | None:
    """partitioned ÷ plain per side, when both ``topic-*`` shapes ran."""
    by = {(row.workload, row.metric): row for row in rows}
    pairs = [
        (row, by[(row.workload.replace("-partitioned-", "-plain-"), row.metric)])
        for row in rows
        if row.workload.startswith("topic-partitioned-")
        and (row.workload.replace("-partitioned-", "-plain-"), row.metric) in by
    ]
    if not pairs:
        return None
    out = Table(title="partitioned ÷ plain topic (the same workload)")
    for column in ("workload", "figure", "anymq", "raw"):
        out.add_column(column, justify="left" if column in ("workload", "figure") else "right")
    for many, one in pairs:
        cells = [
            f"{a / b:.2f}x" if b > 0 and math.isfinite(a / b) else "-"
            for a, b in ((many.anymq, one.anymq), (many.raw, one.raw))
        ]
        out.add_row(many.workload.replace("-partitioned-", "-*-"), many.label, *cells)
    return out


async def measure(args: argparse.Namespace, url: str, console: Console) -> list[bench.Row]:
    shapes = select(bench.shapes_for(url), args.workload)
    base = bench.base_plan(url, count=args.count, latency_samples=args.latency_samples)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("starting", total=len(shapes) * args.rounds * 2)
        started = False

        def step(text: str) -> None:
            nonlocal started
            if started:
                progress.advance(task)
            started = True
            progress.update(task, description=text)

        return await bench.run(url, shapes, base, args.rounds, step)


def main(argv: list[str] | None = None, default_url: str = "memory://") -> int:
    args = parser(default_url).parse_args(argv)
    url = args.url or args.url_option or default_url
    console = Console()
    if args.list:
        for shape in bench.shapes_for(url):
            extra = "" if shape.default else " (only with --workload)"
            console.print(f"{shape.name:24} {shape.description}{extra}")
        return 0
    if args.rounds < 1 or (args.count is not None and args.count < 1):
        console.print("[red]--rounds and --count must be at least 1[/]")
        return 2
    for name in bench.client_loggers(url):  # their warnings would tear the progress bar
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        rows = asyncio.run(measure(args, url, console))
    except ValueError as exc:  # an unknown --workload
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    console.print(table(url, rows, args.rounds))
    partitions = partition_table(rows)
    if partitions is not None:
        console.print(partitions)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "url": anymq.URL.parse(url).render(),
            "rounds": args.rounds,
            "count": args.count,
            "rows": [row.public() for row in rows],
        }
        args.json.write_text(json.dumps(data, indent=2) + "\n")
        console.print(f"wrote {os.path.relpath(args.json)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
