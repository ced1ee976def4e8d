"""``anymq run MODULE:APP``: run an :class:`~anymq.App` from the command line.

``add_parser`` registers the subcommand on the ``anymq`` command's subparsers (the way
``compare`` does), so the command module needs one line for it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Any

from anymq.cli_args import add_common
from anymq.errors import ConfigError
from anymq.runtime.app import App

DESCRIPTION = """\
Run the handlers of an anymq App until interrupted: MODULE:APP names the module to
import (from the current directory too) and the App in it (default attribute: app).

SIGTERM or SIGINT (Ctrl-C) stops it gracefully: nothing new is fetched, the handlers in
flight get up to --drain-timeout seconds to finish and be acked, the consumers leave their
groups, exit status 0. A second signal exits at once (status 130 for SIGINT, 143 for
SIGTERM); what was in flight is redelivered.
"""


def add_parser(subparsers: Any) -> None:
    """Add ``run`` to the ``anymq`` command's subparsers."""
    parser = subparsers.add_parser(
        "run",
        help="run an anymq App's handlers (MODULE:APP)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("app", metavar="MODULE:APP", help="e.g. service:app")
    add_common(parser, "broker URL (default: the App's, else $ANYMQ_URL)")
    parser.add_argument(
        "--drain-timeout",
        type=float,
        metavar="SECONDS",
        help="how long a stop waits for the handlers in flight (default: the App's, 30)",
    )
    parser.add_argument(
        "--health-port",
        type=int,
        metavar="PORT",
        help="serve GET /healthz (liveness) and /readyz (readiness) as JSON on this port",
    )
    parser.add_argument(
        "--health-host",
        default="127.0.0.1",
        metavar="HOST",
        help="address for --health-port (default 127.0.0.1; 0.0.0.0 for a container)",
    )
    parser.set_defaults(handler=run)


def load(spec: str) -> App:
    """The App that ``module:attribute`` names; ConfigError saying what is wrong."""
    module_name, _, attribute = spec.partition(":")
    attribute = attribute or "app"
    if not module_name or not all(part.isidentifier() for part in attribute.split(".")):
        raise ConfigError(f"expected MODULE:APP (e.g. service:app), got {spec!r}")
    if os.getcwd() not in sys.path:  # like `python -m`: modules next to you are found
        sys.path.insert(0, os.getcwd())
    try:
        target: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not module_name.startswith(exc.name):
            raise  # the module exists; something it imports does not
        raise ConfigError(f"cannot import {module_name!r}: no such module") from exc
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ConfigError(f"module {module_name!r} has no attribute {attribute!r}")
        target = getattr(target, part)
    if not isinstance(target, App):
        raise ConfigError(f"{spec} is a {type(target).__name__}, not an anymq.App")
    return target


async def run(args: argparse.Namespace) -> int:
    """The subcommand: load the app, run it until interrupted."""
    app = load(args.app)
    if args.drain_timeout is not None:
        app.drain_timeout = args.drain_timeout
    if args.health_port is not None and not 0 <= args.health_port <= 65535:
        raise ConfigError(f"--health-port must be 0..65535, got {args.health_port}")
    await app.run(url=args.url, health_port=args.health_port, health_host=args.health_host)
    return 0
