"""``python -m benchmarks.peer``: see the package docstring (``--help``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import platform
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import benchmarks.peer as package
from benchmarks.peer import report
from benchmarks.peer.common import SIDES
from benchmarks.peer.run import Row, plan, run, select
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

DEFAULT_URLS = ("kafka://127.0.0.1:9092", "amqp://guest:guest@127.0.0.1:5672/")
QUIET = ("aiokafka", "aio_pika", "aiormq", "faststream", "anymq")


def parser() -> argparse.ArgumentParser:
    out = argparse.ArgumentParser(
        prog="python -m benchmarks.peer",
        description=(package.__doc__ or "").split("\n")[0],
    )
    out.add_argument("urls", nargs="*", help=f"broker URLs (default: {' '.join(DEFAULT_URLS)})")
    out.add_argument("--count", type=int, default=5000, help="messages per round (default 5000;"
                     " the awaited-send workloads send a tenth)")  # fmt: skip
    out.add_argument("--rounds", type=int, default=5, help="rounds per side (default 5)")
    out.add_argument("--workload", action="append", help="only these workloads (name prefix)")
    out.add_argument("--timeout", type=float, default=300, help="seconds per side and round")
    out.add_argument("--out", type=Path, default=Path("reports/peer"),
                     help="folder for peer.json, peer.md and the SVG charts")  # fmt: skip
    out.add_argument("--list", action="store_true", help="list the workloads and exit")
    out.add_argument(
        "--replot", type=Path, metavar="PEER_JSON", help="redraw an earlier run's peer.json"
    )
    return out


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "machine": platform.machine()}
    for dist in ("anymq", "faststream", "aiokafka", "aio-pika"):
        try:
            out[dist] = version(dist)
        except Exception:  # not installed
            out[dist] = "-"
    return out


async def measure(args: argparse.Namespace, urls: list[str], console: Console) -> list[Row]:
    chosen = [(url, *plan(url)) for url in urls]
    names = args.workload or []
    chosen = [
        (url, tuple(w for w in ws if not names or any(w.name.startswith(n) for n in names)), s)
        for url, ws, s in chosen
    ]
    total = sum(len(w) for _, w, _ in chosen) * args.rounds * len(SIDES)
    rows: list[Row] = []
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task("starting", total=total)
        started = False

        def step(text: str) -> None:
            nonlocal started
            if started:
                progress.advance(task)
            started = True
            progress.update(task, description=text)

        for url, workloads, sides in chosen:
            rows += await run(
                url, workloads, sides, count=args.count, rounds=args.rounds,
                timeout=args.timeout, step=step,
            )  # fmt: skip
    return rows


def load(data: dict[str, Any]) -> list[Row]:
    """The rows of an earlier run's peer.json (workloads looked up by name)."""
    known = {w.name: w for url in DEFAULT_URLS for w in plan(url)[0]}
    rows = []
    for item in data["rows"]:
        row = Row(item["url"], known[item["workload"]], item["count"])
        row.rates, row.counts = item["rates"], item["counts"]
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    console = Console()
    console = Console(width=max(console.width, 150))  # the table's seven columns
    urls = list(args.urls or DEFAULT_URLS)
    if args.rounds < 1 or args.count < 2:
        console.print("[red]--rounds must be at least 1 and --count at least 2[/]")
        return 2
    try:
        if args.list:
            for url in urls:
                for w in plan(url)[0]:
                    console.print(f"{w.name:32} {w.title}")
            return 0
        select(tuple(w for url in urls for w in plan(url)[0]), args.workload)
    except ValueError as exc:
        print(f"peer: {exc}", file=sys.stderr)
        return 2
    for name in QUIET:  # their warnings would tear the progress bar
        logging.getLogger(name).setLevel(logging.ERROR)
    if args.replot:
        data = json.loads(args.replot.read_text())
        rows, about, rounds = load(data), data["versions"], data["rounds"]
    else:
        rows, about, rounds = asyncio.run(measure(args, urls, console)), versions(), args.rounds
        data = {"rounds": rounds, "count": args.count, "versions": about,
                "rows": [row.public() for row in rows]}  # fmt: skip
    console.print(report.table(rows, rounds, about))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "peer.json").write_text(json.dumps(data, indent=2) + "\n")
    (args.out / "peer.md").write_text(report.markdown(rows, rounds, about))
    for name, svg in report.charts(rows, rounds).items():
        (args.out / name).write_text(svg + "\n")
    console.print(f"wrote {args.out}/peer.json, peer.md, peer-raw.svg, peer-faststream.svg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
