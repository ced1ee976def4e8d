"""``anymq compare [URL ...]``: the subcommand's arguments and its entry point.

``add_parser`` registers the subcommand on the ``anymq`` command's subparsers; ``run`` is
the async handler it calls (also usable as ``python -m anymq.compare``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from anymq.cli_args import add_verbose
from anymq.compare import report_html, report_json, terminal
from anymq.compare.profile import profiles
from anymq.compare.runner import Comparison
from anymq.compare.settings import (
    DEFAULT_CONFIG,
    DEFAULT_OUTPUT,
    QUICK,
    Settings,
    Workload,
    env_urls,
    resolve,
)
from anymq.errors import AnyMQError

DESCRIPTION = """\
Compare brokers side by side: run the anymq contract suite against each (behaviour) and
one standard workload through anymq and through the broker's own client (performance).
Writes a table to the terminal, a JSON file and a single-file HTML report.
"""


def description() -> str:
    """DESCRIPTION plus where URLs come from without any (the installed backends say)."""
    defaults = [p.default_url for p in profiles().values() if p.default_url]
    lead = f"{', '.join(defaults)} plus " if defaults else ""
    return (
        f"{DESCRIPTION}\nWithout URLs: {lead}the config file's `urls` and every URL set in\n"
        f"{', '.join(env_urls())}.\n"
    )


def add_parser(subparsers: Any) -> None:
    """Add ``compare`` to the ``anymq`` command's subparsers."""
    parser = subparsers.add_parser(
        "compare",
        help="compare brokers side by side: behaviour and performance",
        description=description(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    configure(parser)
    add_verbose(parser)
    parser.set_defaults(handler=run)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("urls", nargs="*", metavar="URL", help="broker URLs to compare")
    parser.add_argument(
        "--config",
        type=Path,
        help=f"TOML settings file (default: ./{DEFAULT_CONFIG} if it exists)",
    )
    parser.add_argument(
        "--output", type=Path, help=f"folder for the reports (default: {DEFAULT_OUTPUT}/)"
    )
    parser.add_argument("--json", type=Path, help="JSON report path (default: OUTPUT/compare.json)")
    parser.add_argument("--html", type=Path, help="HTML report path (default: OUTPUT/compare.html)")
    parser.add_argument(
        "--no-behaviour",
        dest="behaviour",
        action="store_const",
        const=False,
        help="skip the contract suite",
    )
    parser.add_argument(
        "--no-performance",
        dest="performance",
        action="store_const",
        const=False,
        help="skip the performance workload",
    )
    parser.add_argument(
        "--quick",
        action="store_const",
        const=True,
        help=f"small workload for CI and demos ({QUICK.count} messages, {QUICK.rounds} rounds)",
    )
    work = parser.add_argument_group("workload (defaults: see docs/compare.md)")
    defaults = Workload()
    work.add_argument("--size", type=int, help=f"bytes per message (default {defaults.size})")
    work.add_argument("--count", type=int, help=f"messages per round (default {defaults.count})")
    work.add_argument(
        "--producers", type=int, help=f"concurrent producers (default {defaults.producers})"
    )
    work.add_argument(
        "--consumers", type=int, help=f"consumers in the group (default {defaults.consumers})"
    )
    work.add_argument(
        "--partitions",
        type=int,
        help=f"topic partitions where supported (default {defaults.partitions})",
    )
    work.add_argument(
        "--batch", type=int, help=f"messages per send_batch (default {defaults.batch})"
    )
    work.add_argument(
        "--prefetch", type=int, help=f"messages a consumer asks for (default {defaults.prefetch})"
    )
    work.add_argument(
        "--latency-samples",
        type=int,
        help=f"messages timed one by one (default {defaults.latency_samples})",
    )
    work.add_argument("--rounds", type=int, help=f"rounds per side (default {defaults.rounds})")
    parser.add_argument(
        "--connect-timeout", type=float, help="seconds to wait for a broker (default 5)"
    )
    parser.add_argument(
        "--test-timeout", type=float, help="seconds one contract test may take (default 60)"
    )
    parser.add_argument(
        "--exit-zero",
        "--no-fail",
        dest="exit_zero",
        action="store_true",
        help="exit 0 even when a broker is unreachable or a contract test failed "
        "(default: exit 1, so a CI job notices)",
    )


def settings_from(args: argparse.Namespace) -> Any:
    workload_flags = {
        name: getattr(args, name, None)
        for name in (
            "size",
            "count",
            "producers",
            "consumers",
            "partitions",
            "batch",
            "prefetch",
            "latency_samples",
            "rounds",
        )
    }
    flags: dict[str, Any] = {
        "output": args.output,
        "json": args.json,
        "html": args.html,
        "behaviour": args.behaviour,
        "performance": args.performance,
        "quick": args.quick,
        "connect_timeout": args.connect_timeout,
        "test_timeout": args.test_timeout,
        "workload": workload_flags,
    }
    return resolve(urls=args.urls, flags=flags, environ=os.environ, config_path=args.config)


async def run(args: argparse.Namespace) -> int:
    """Run a comparison; 0 = clean, 1 = a broker unreachable, a contract test failed or a
    run broke (0 with ``--exit-zero``), 2 = bad arguments, 130 = Ctrl-C."""
    try:
        settings = settings_from(args)
    except AnyMQError as exc:
        Console(stderr=True).print(f"[red]error:[/] {escape(str(exc))}")
        return 2
    quiet = {name for profile in profiles().values() for name in profile.loggers}
    levels = {name: logging.getLogger(name).level for name in quiet}
    for name in quiet:  # the progress display is the only output, for this run only
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        return await _run(settings, exit_zero=bool(getattr(args, "exit_zero", False)))
    finally:  # an application (or test session) running compare in-process keeps its logs
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


async def _run(settings: Settings, *, exit_zero: bool = False) -> int:
    console = Console()
    shown = ", ".join(c.split("?")[0] for c in settings.public()["urls"])
    console.print(f"[bold]anymq compare[/]: {escape(shown)}")
    display = terminal.Display(console)
    comparison = Comparison(settings, display)
    code = 0
    try:
        with display:
            await comparison.run()
        code = comparison.exit_code()
    except (asyncio.CancelledError, KeyboardInterrupt):
        code = 130
    finally:
        document = report_json.build(comparison.report)
        report_json.write(document, settings.json_path)
        settings.html_path.parent.mkdir(parents=True, exist_ok=True)
        settings.html_path.write_text(report_html.render(document), encoding="utf-8")
        console.print(terminal.tables(document))
        if code == 130:
            console.print("[yellow]interrupted:[/] everything this run created was removed")
        if document["leftovers"]:
            console.print("[red]could not remove:[/] " + escape("; ".join(document["leftovers"])))
        console.print(f"JSON report: {settings.json_path}")
        console.print(f"HTML report: {settings.html_path}")
        if code == 1:
            why = "; ".join(comparison.problems())
            if exit_zero:
                code = 0
                console.print(f"[yellow]not clean:[/] {escape(why)} (exit 0: --exit-zero)")
            else:
                console.print(f"[red]exit 1:[/] {escape(why)} (--exit-zero to exit 0 regardless)")
    return code
