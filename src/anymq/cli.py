"""The ``anymq`` command: backends, topics, groups, produce, consume, demo (and compare).

Every command takes ``--url`` (default ``$ANYMQ_URL``); errors are printed as one clear
line instead of a traceback. Exit codes, so scripts can tell a typo from an outage:
0 done; 1 the work failed (broker unreachable, topic missing, a send refused);
2 usage (bad arguments, URL, options or topic name); 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import shlex
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any

import anymq
from anymq import arguments, plugins
from anymq.cli_admin import add_parsers as add_admin_parsers
from anymq.cli_io import printable, stdin_lines
from anymq.cli_output import err, out
from anymq.errors import AnyMQError, ConfigError, InvalidTopicName, TopicNotFound

Handler = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


def _url(args: argparse.Namespace) -> str:
    url: str | None = args.url or os.environ.get("ANYMQ_URL")
    if not url:
        raise anymq.ConfigError("no broker URL: pass --url (e.g. --url memory://) or set ANYMQ_URL")
    return url


async def cmd_backends(args: argparse.Namespace) -> int:
    if args.options:
        return _print_options(args)
    rows = []
    for scheme, spec in sorted(plugins.backends().items()):
        try:
            plugins.load_driver(scheme)
        except AnyMQError as exc:
            rows.append((f"{scheme}://", spec.name, "no", str(exc), ""))
            continue
        try:
            # Capabilities can depend on URL options (RabbitMQ's stream mode): show the
            # defaults of a bare URL, which opens no connection.
            caps = anymq.connect(f"{scheme}://").capabilities
            features = ", ".join(sorted(f.value for f in caps.features))
        except AnyMQError as exc:
            features = f"(depends on the URL: {exc})"
        rows.append((f"{scheme}://", spec.name, "yes", features, spec.install_hint or "-"))
    out.table(
        "installed anymq backends", ("scheme", "backend", "loads", "features", "install"), rows
    )
    return 0


_OPTION_COLUMNS = ("option", "type", "default", "where", "meaning")


def _print_options(args: argparse.Namespace) -> int:
    """Each backend's declared options. Not on a terminal: one tab-separated line per
    option (scheme first, a header line before), so the output can be piped and cut."""
    url = args.url or os.environ.get("ANYMQ_URL")
    specs = {spec.name: spec.schemes[0] for spec in plugins.backends().values()}
    schemes = sorted(specs.values())
    if url:
        schemes = [anymq.URL.parse(url).scheme]
    if out.styled:
        for scheme in schemes:
            out.table(f"{scheme}:// options", _OPTION_COLUMNS, _option_rows(scheme))
        return 0
    rows = [(f"{s}://", *row) for s in schemes for row in _option_rows(s)]
    out.table("options", ("scheme", *_OPTION_COLUMNS), rows)
    return 0


def _option_rows(scheme: str) -> list[tuple[str, str, str, str, str]]:
    declared = plugins.load_options(scheme)
    return declared.rows() if declared is not None else []


def _seconds(text: str) -> float:
    """An argparse type: a finite number of seconds >= 0 (float() alone accepts 'nan')."""
    try:
        return arguments.seconds("seconds", float(text))  # type: ignore[return-value]
    except ValueError:  # float() failed, or ConfigError (a ValueError)
        raise argparse.ArgumentTypeError(
            f"expected a finite number of seconds >= 0, got {text!r}"
        ) from None


def _count(text: str) -> int:
    """An argparse type: a whole number of messages >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def _headers(pairs: Sequence[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise anymq.ConfigError(f"--header takes NAME=VALUE, got {pair!r}")
        out[name] = value
    return out


async def cmd_produce(args: argparse.Namespace) -> int:
    headers = _headers(args.header)
    # Values are bytes: argv gives back the bytes the shell passed (fsencode undoes Python's
    # surrogateescape), stdin lines are never decoded, so any input is sent as it is.
    values: AsyncIterator[bytes] = (
        _listed([os.fsencode(v) for v in args.values]) if args.values else stdin_lines()
    )
    sent = 0
    async with anymq.connect(_url(args)) as broker, broker.producer() as producer:
        async for value in values:
            try:
                receipt = await producer.send(
                    args.topic, value, key=args.key, headers=headers or None
                )
            except AnyMQError as exc:
                exc.args = (
                    f"stopped at message {sent + 1} of the input: {exc}. The {sent} message(s) "
                    "before it were sent, nothing after it",
                )
                raise
            sent += 1
            out.line(f"sent to {receipt.topic}[{receipt.partition}]@{receipt.offset}")
    return 0


async def _listed(values: list[bytes]) -> AsyncIterator[bytes]:
    for value in values:
        yield value


async def cmd_consume(args: argparse.Namespace) -> int:
    received = 0
    raw = sys.stdout.buffer if args.raw else None
    if raw is not None:
        sys.stdout.flush()  # text written before goes out before the bytes
    async with (
        anymq.connect(_url(args)) as broker,
        broker.consumer(args.topic, args.group, start=args.start) as consumer,
    ):
        while args.count is None or received < args.count:
            wanted = 100 if args.count is None else min(100, args.count - received)
            batch = await consumer.receive(max_messages=wanted, timeout=args.timeout)
            if not batch:
                break
            for msg in batch:
                if raw is not None:
                    raw.write(msg.body + b"\n")
                else:
                    where = f"{msg.topic}[{msg.partition}]@{msg.offset}"
                    text = printable(msg.body.decode(errors="replace"))
                    out.line(f"{where} key={printable(repr(msg.key))} {text}")
                if not args.no_ack:
                    await msg.ack()
                received += 1
            if raw is not None:
                raw.flush()
    err.line(f"{received} message(s)")
    return 0


async def cmd_demo(args: argparse.Namespace) -> int:
    from anymq.demo import run_demo

    return await run_demo(args.url or "memory://demo")


def _needs_compare(missing: str | None) -> Handler:
    async def handler(args: argparse.Namespace) -> int:
        raise ConfigError(
            f"anymq compare needs {missing or 'its extra'}, which is not installed: "
            "pip install 'anymq[compare]'"
        )

    return handler


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="anymq", description=__doc__)
    parser.add_argument("--version", action="version", version=f"anymq {anymq.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--url", help="broker URL (default: $ANYMQ_URL)")
        p.set_defaults(handler=handler)
        return p

    backends = command("backends", cmd_backends, "list installed backends and their capabilities")
    backends.add_argument(
        "--options",
        action="store_true",
        help="list each backend's options (name, type, default, where it applies, meaning); "
        "with --url only that backend's. Tab-separated when not on a terminal",
    )
    add_admin_parsers(sub)  # topics and groups
    produce = command(
        "produce",
        cmd_produce,
        "send messages: the VALUES given, else each line of stdin as it arrives. Lines are "
        "bytes (input need not be UTF-8) and end at \\n (a \\r before it is dropped); each is "
        "sent before the next is read, so on an error the lines before it were sent",
    )
    produce.add_argument("topic")
    produce.add_argument("values", nargs="*")
    produce.add_argument("--key")
    produce.add_argument("--header", action="append", default=[], metavar="NAME=VALUE")
    consume = command(
        "consume",
        cmd_consume,
        "receive and print messages, one per line: topic[partition]@offset, key, value. "
        "Control characters in keys and values (escape sequences, newlines, bidi controls) "
        "are shown escaped (\\x1b, \\n, \\u202e) so data cannot drive the terminal; use "
        "--raw for the exact bytes",
    )
    consume.add_argument("topic")
    consume.add_argument("--group")
    consume.add_argument("--start", default="latest", choices=["latest", "earliest"])
    consume.add_argument(
        "--count", type=_count, help="stop after this many messages (default: no limit)"
    )
    consume.add_argument(
        "--timeout",
        type=_seconds,
        default=5.0,
        help="stop after this many seconds without a message (default: 5)",
    )
    consume.add_argument("--no-ack", action="store_true")
    consume.add_argument(
        "--raw",
        action="store_true",
        help="write each value's bytes unchanged, one per line, and nothing else (for pipes, "
        "e.g. into `anymq produce`); values are not escaped",
    )
    command("demo", cmd_demo, "walk through the semantics on memory:// (or --url)")
    try:
        compare: Any = importlib.import_module("anymq.compare.cli")
    except ImportError as exc:  # a bare `pip install anymq`: say what to install
        stub = command("compare", _needs_compare(exc.name), "compare brokers (anymq[compare])")
        stub.add_argument(
            "args",
            nargs=argparse.REMAINDER,
            help="its arguments (listed once anymq[compare] is installed)",
        )
    else:
        compare.add_parser(sub)
    importlib.import_module("anymq.runtime.cli").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``anymq`` command."""
    args = build_parser().parse_args(argv)
    try:
        result: int = asyncio.run(args.handler(args))
    except TopicNotFound as exc:
        # the library's hint names the Python call; at a shell, name the command
        err.error(
            f"topic {exc.topic!r} does not exist on {exc.backend}; "
            f"create it with: anymq topics create {shlex.quote(exc.topic)}"
        )
        return 1
    except AnyMQError as exc:
        err.error(str(exc))
        return 2 if isinstance(exc, ConfigError | InvalidTopicName) else 1
    except KeyboardInterrupt:
        return 130
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
