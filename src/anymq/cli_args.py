"""Arguments every ``anymq`` subcommand shares: ``--url`` and ``-v``.

One place, so a command added in another module (topics, groups, run, compare) takes them the
same way: ``anymq topics list -v`` works like ``anymq -v topics list``.
"""

from __future__ import annotations

import argparse
import os

import anymq

URL_HELP = "broker URL (default: $ANYMQ_URL)"
VERBOSE_HELP = (
    "show the broker clients' log: -v warnings and errors, -vv everything (by default only "
    "anymq's own one-line errors)"
)


def add_verbose(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """``-v``/``--verbose``; below the top level its default is suppressed, so a count given
    before the subcommand is kept, not reset to 0."""
    default = 0 if top else argparse.SUPPRESS
    parser.add_argument("-v", "--verbose", action="count", default=default, help=VERBOSE_HELP)


def add_common(parser: argparse.ArgumentParser, url_help: str = URL_HELP) -> None:
    """``--url`` and ``-v`` on a subcommand."""
    parser.add_argument("--url", help=url_help)
    add_verbose(parser)


def broker_url(args: argparse.Namespace) -> str:
    """``--url``, else ``$ANYMQ_URL``, else a usage error that says how to give one."""
    url: str | None = args.url or os.environ.get("ANYMQ_URL")
    if not url:
        raise anymq.ConfigError("no broker URL: pass --url (e.g. --url memory://) or set ANYMQ_URL")
    return url
