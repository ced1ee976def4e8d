"""``anymq topics ...`` and ``anymq groups ...``: administration at a shell.

Each action is its own subcommand with its own arguments and help. What they print is for a
person on a terminal (tables) and for a script in a pipe (one name per line, or a header
line and tab-separated rows, see :mod:`anymq.cli_output`); ``--format json`` prints one JSON
document instead (a list for ``list``, an object for ``describe``). Summaries that are not
rows (a group's members) go to stderr, so the rows on stdout stay cut/awk friendly.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Coroutine, Mapping
from datetime import timedelta
from typing import Any

import anymq
from anymq.cli_args import add_common, broker_url
from anymq.cli_io import printable
from anymq.cli_output import err, out

Handler = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]

FORMAT_HELP = "table (default: a table on a terminal, tab-separated lines in a pipe) or json"


def _json(document: object) -> None:
    out.line(json.dumps(document, default=str))


def _cell(value: object) -> str:
    return "-" if value is None else printable(str(value))


# -- topics --------------------------------------------------------------------------------


def retention_flags(args: argparse.Namespace) -> anymq.Retention:
    """The flags as the API's Retention; 0 is refused like ``Retention(time=0)``, not ignored."""
    seconds, size = args.retention_seconds, args.retention_bytes
    if seconds is not None and not (math.isfinite(seconds) and seconds > 0):
        raise anymq.ConfigError(
            f"--retention-seconds must be > 0 (omit it for the broker's default), got {seconds:g}"
        )
    if size is not None and size < 1:
        raise anymq.ConfigError(
            f"--retention-bytes must be >= 1 (omit it for the broker's default), got {size}"
        )
    return anymq.Retention(
        time=timedelta(seconds=seconds) if seconds is not None else None, bytes=size
    )


def _retention_text(retention: anymq.Retention) -> str:
    if retention.is_default:
        return "default"
    parts = []
    if retention.time is not None:
        parts.append(f"time={retention.time.total_seconds():g}s")
    if retention.bytes is not None:
        parts.append(f"bytes={retention.bytes}")
    if retention.messages is not None:
        parts.append(f"messages={retention.messages}")
    return " ".join(parts)


def _retention_json(retention: anymq.Retention) -> dict[str, Any]:
    seconds = retention.time.total_seconds() if retention.time is not None else None
    return {"seconds": seconds, "bytes": retention.bytes, "messages": retention.messages}


def _details_text(details: Mapping[str, Any]) -> str:
    """``key=value, ...``: strings as they are, everything else as compact JSON."""
    return ", ".join(
        f"{key}={value if isinstance(value, str) else json.dumps(value, default=str)}"
        for key, value in details.items()
    )


async def topics_list(args: argparse.Namespace) -> int:
    async with anymq.connect(broker_url(args)) as broker:
        names = await broker.list_topics()
    if args.format == "json":
        _json(names)
    else:
        for name in names:
            out.line(printable(name))
    return 0


async def topics_create(args: argparse.Namespace) -> int:
    retention = retention_flags(args)  # refused before connecting
    async with anymq.connect(broker_url(args)) as broker:
        created = await broker.create_topic(
            args.name, partitions=args.partitions, retention=retention
        )
    out.line(f"{args.name}: {'created' if created else 'already exists'}")
    return 0


async def topics_describe(args: argparse.Namespace) -> int:
    async with anymq.connect(broker_url(args)) as broker:
        info = await broker.describe_topic(args.name)
    if args.format == "json":
        _json(
            {
                "name": info.name,
                "partitions": info.partitions,
                "retention": _retention_json(info.retention),
                "details": dict(info.details),
            }
        )
        return 0
    row = (
        info.name,
        str(info.partitions),
        _retention_text(info.retention),
        printable(_details_text(info.details)),
    )
    out.table(f"topic {info.name}", ("name", "partitions", "retention", "details"), [row])
    return 0


async def topics_delete(args: argparse.Namespace) -> int:
    async with anymq.connect(broker_url(args)) as broker:
        await broker.delete_topic(args.name)
    out.line(f"{args.name}: deleted")
    return 0


# -- groups --------------------------------------------------------------------------------


async def groups_list(args: argparse.Namespace) -> int:
    async with anymq.connect(broker_url(args)) as broker:
        names = await broker.list_groups(args.topic)
    if args.format == "json":
        _json(names)
    else:
        for name in names:
            out.line(printable(name))
    return 0


async def groups_describe(args: argparse.Namespace) -> int:
    async with anymq.connect(broker_url(args)) as broker:
        info = await broker.describe_group(args.topic, args.group)
    if args.format == "json":
        _json(
            {
                "topic": info.topic,
                "group": info.group,
                "members": info.members,
                "in_flight": info.in_flight,
                "backlog": info.backlog,
                "partitions": [
                    {"partition": p.partition, "committed": p.committed, "end": p.end, "lag": p.lag}
                    for p in info.partitions
                ],
            }
        )
        return 0
    rows = [
        (_cell(p.partition), _cell(p.committed), _cell(p.end), str(p.lag)) for p in info.partitions
    ]
    out.table(
        f"group {printable(info.group)} on {info.topic}",
        ("partition", "committed", "end", "lag"),
        rows,
    )
    unknown = "unknown"
    err.line(
        f"group {printable(info.group)} on {info.topic}: members "
        f"{unknown if info.members is None else info.members}, in flight "
        f"{unknown if info.in_flight is None else info.in_flight}, backlog {info.backlog}"
    )
    return 0


# -- parsers -------------------------------------------------------------------------------


def _action(
    actions: Any, name: str, handler: Handler, help_text: str, *, formats: bool = False
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = actions.add_parser(
        name, help=help_text, description=help_text
    )
    add_common(parser)
    if formats:
        parser.add_argument(
            "--format", choices=("table", "json"), default="table", help=FORMAT_HELP
        )
    parser.set_defaults(handler=handler)
    return parser


def add_parsers(subparsers: Any) -> None:
    """Add ``topics`` and ``groups`` (each with its subcommands) to the ``anymq`` command."""
    topics = subparsers.add_parser(
        "topics",
        help="list, create, describe or delete topics",
        description="list, create, describe or delete topics (anymq topics ACTION --help)",
    )
    actions = topics.add_subparsers(dest="action", required=True, metavar="ACTION")
    _action(
        actions, "list", topics_list, "the topics on the broker, one name per line", formats=True
    )
    create = _action(
        actions,
        "create",
        topics_create,
        "create a topic; says 'already exists' (exit 0) if it does",
    )
    create.add_argument("name", help="the topic's name")
    create.add_argument(
        "--partitions",
        type=int,
        default=1,
        help="number of partitions (default: 1); more than 1 needs the partitions feature",
    )
    create.add_argument(
        "--retention-seconds",
        type=float,
        metavar="SECONDS",
        help="remove messages older than this (default: the broker's retention)",
    )
    create.add_argument(
        "--retention-bytes",
        type=int,
        metavar="BYTES",
        help="remove the oldest messages past this size per partition or queue "
        "(default: the broker's retention)",
    )
    describe = _action(
        actions,
        "describe",
        topics_describe,
        "a topic's partitions, retention and backend details",
        formats=True,
    )
    describe.add_argument("name", help="the topic's name")
    delete = _action(
        actions,
        "delete",
        topics_delete,
        "delete a topic and what the backend made for it (its groups' queues, offsets)",
    )
    delete.add_argument("name", help="the topic's name")

    groups = subparsers.add_parser(
        "groups",
        help="list a topic's consumer groups, or show a group's position and lag",
        description="list a topic's consumer groups, or show a group's position and lag "
        "(anymq groups ACTION --help)",
    )
    group_actions = groups.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = _action(
        group_actions,
        "list",
        groups_list,
        "the groups of a topic (declared or consumed from), one name per line; backends "
        "that cannot list them say so (exit 1)",
        formats=True,
    )
    listing.add_argument("topic", help="the topic's name")
    show = _action(
        group_actions,
        "describe",
        groups_describe,
        "a group's position on each partition: committed (the next offset it reads), end "
        "(the next offset sent) and lag (messages waiting for it; '-' where the broker has "
        "no offsets); members, in flight and backlog on stderr",
        formats=True,
    )
    show.add_argument("topic", help="the topic's name")
    show.add_argument("group", help="the group's name")
