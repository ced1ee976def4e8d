"""The ``anymq`` command: backends, topics, groups, produce, consume, demo (and compare).

Every command takes ``--url`` (default ``$ANYMQ_URL``); errors are printed as one clear
line instead of a traceback. Exit codes, so scripts can tell a typo from an outage:
0 done; 1 the work failed (broker unreachable, topic missing, a send refused);
2 usage (bad arguments, URL, options or topic name); 130 interrupted (Ctrl-C).
``produce`` and ``consume`` are built for pipelines: data on stdout/stdin one message per
line, summaries, errors and (with -v) the broker clients' logs on stderr (docs/cli.md).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import shlex
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any, cast

import anymq
from anymq import arguments, plugins
from anymq.cli_admin import add_parsers as add_admin_parsers
from anymq.cli_args import add_common, add_verbose, broker_url
from anymq.cli_formats import BadLine, json_line, message_from_json, template
from anymq.cli_io import is_regular_file, line_batches, printable
from anymq.cli_output import configure_logging, err, out
from anymq.errors import (
    AnyMQError,
    ConfigError,
    InvalidTopicName,
    MessageTooLarge,
    SerializationError,
    TopicNotFound,
)
from anymq.message import Received

Handler = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


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


def _partition(text: str) -> int:
    """An argparse type: a partition number >= 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a partition number >= 0, got {text!r}")
    return value


def _headers(pairs: Sequence[str]) -> dict[str, bytes]:
    """``--header NAME=VALUE`` flags; values are the bytes the shell passed."""
    found = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise anymq.ConfigError(f"--header takes NAME=VALUE (a name, then =), got {pair!r}")
        found[name] = os.fsencode(value)
    return found


LineParser = Callable[[bytes], "anymq.Message | bytes"]


def _line_parser(args: argparse.Namespace) -> LineParser:
    """How one input line becomes a message, from the flags; bad flags fail here, before
    anything is read or any connection is made."""
    headers = _headers(args.header) or None
    key = os.fsencode(args.key) if args.key is not None else None
    partition = args.partition
    if args.format == "json":
        if args.key_separator is not None or args.key is not None:
            raise anymq.ConfigError(
                "--format json reads each message's key from its JSON; drop --key / --key-separator"
            )

        return lambda line: message_from_json(line, headers, partition)
    if args.format != "value":
        raise anymq.ConfigError(f"produce --format is 'value' or 'json', got {args.format!r}")
    if args.key_separator is not None:
        sep = os.fsencode(args.key_separator)
        if not sep or b"\n" in sep:
            raise anymq.ConfigError("--key-separator must be non-empty and hold no newline")
        if args.key is not None:
            raise anymq.ConfigError("--key and --key-separator exclude each other")

        def split(line: bytes) -> anymq.Message:
            found_key, found, value = line.partition(sep)
            if not found:  # no separator: the whole line is the value, without a key
                return anymq.Message(line, headers=headers, partition=partition)
            return anymq.Message(value, key=found_key, headers=headers, partition=partition)

        return split
    if key is None and headers is None and partition is None:
        return bytes  # the plain line is the value: send_batch's cheapest form
    return lambda line: anymq.Message(line, key=key, headers=headers, partition=partition)


async def cmd_produce(args: argparse.Namespace) -> int:
    parse = _line_parser(args)
    if args.values and args.file:
        raise anymq.ConfigError("give VALUES or --file, not both")
    broker = anymq.connect(broker_url(args))
    if args.partition is not None and anymq.Feature.PARTITIONS not in broker.capabilities:
        raise anymq.ConfigError(
            f"--partition: {broker.backend} topics have no partitions (the backend does not "
            "declare Feature.PARTITIONS); drop --partition"
        )
    unit, total = "line", None
    # Values are bytes: argv gives back the bytes the shell passed (fsencode undoes Python's
    # surrogateescape), input lines are never decoded, so any input is sent as it is.
    batches: AsyncIterator[tuple[list[bytes], int]]
    if args.values:
        unit, batches = "message", _listed([os.fsencode(v) for v in args.values])
    else:
        fd = 0
        if args.file:
            try:
                fd = os.open(args.file, os.O_RDONLY)
            except OSError as exc:
                err.error(f"cannot read --file {args.file!r}: {exc.strerror}")
                return 1
        total = is_regular_file(fd)
        batches = line_batches(fd)
    sending = _Sending(args.topic, unit)
    try:
        await _produce(args, broker, parse, batches, total, sending)
    finally:
        if args.file and not args.values:
            os.close(fd)
    err.line(sending.summary())
    return 0


async def _produce(
    args: argparse.Namespace,
    broker: anymq.Broker,
    parse: LineParser,
    batches: AsyncIterator[tuple[list[bytes], int]],
    total: int | None,
    sending: _Sending,
) -> None:
    async with broker, broker.producer() as producer:
        sending.start()
        try:
            with err.progress(total or 0, f"sending to {args.topic}") as bar:
                async for lines, size in batches:
                    if parse is bytes:  # plain lines: they are the values already
                        await sending.batch(producer, lines)  # type: ignore[arg-type]
                    else:
                        await sending.batch(producer, [parse_line(parse, ln) for ln in lines])
                    bar.advance(size, len(lines))
            await producer.flush()
        except asyncio.CancelledError:
            err.line(sending.summary(interrupted=True))
            raise


def parse_line(parse: LineParser, line: bytes) -> anymq.Message | bytes | BadLine:
    """The line as a message, or the reason it is not one (raised once the lines before it
    in its batch are sent)."""
    try:
        return parse(line)
    except BadLine as exc:
        return exc


class _Sending:
    """Counts what ``produce`` sent (confirmed) and says so, at the end or where it stopped."""

    def __init__(self, topic: str, unit: str) -> None:
        self.topic = topic
        self.unit = unit
        self.sent = 0
        self.in_flight = 0
        self.started = time.monotonic()

    def start(self) -> None:
        self.started = time.monotonic()

    async def batch(
        self, producer: anymq.Producer, items: list[anymq.Message | bytes | BadLine]
    ) -> None:
        bad = next(
            (
                i
                for i, item in enumerate(items)
                if type(item) is not bytes and isinstance(item, BadLine)
            ),
            None,
        )
        good = cast("list[anymq.Message | bytes]", items if bad is None else items[:bad])
        if good:
            await self._send(producer, good)
        if bad is not None:
            raise SerializationError(self._stopped(str(items[bad])))

    async def _send(self, producer: anymq.Producer, items: list[anymq.Message | bytes]) -> None:
        self.in_flight = len(items)
        try:
            await producer.send_batch(self.topic, items)
        except (SerializationError, MessageTooLarge, ConfigError):
            # send_batch refused the whole batch before sending any of it: send one by one
            # up to the bad one, so the count of what was sent stays exact
            self.in_flight = 0
            for item in items:
                try:
                    if isinstance(item, anymq.Message):
                        await producer.send(
                            self.topic,
                            item.value,
                            key=item.key,
                            headers=item.headers,
                            partition=item.partition,
                        )
                    else:
                        await producer.send(self.topic, item)
                except AnyMQError as exc:
                    exc.args = (self._stopped(str(exc)),)
                    raise
                self.sent += 1
            return  # every one was accepted alone: all sent
        except AnyMQError as exc:
            first = self.sent + 1
            exc.args = (
                f"stopped at {self.unit}s {first}-{self.sent + len(items)} of the input: {exc}. "
                f"The {self.sent} message(s) before them were sent (confirmed); those "
                f"{len(items)} may be partly stored; nothing after them was sent",
            )
            raise
        self.sent += len(items)
        self.in_flight = 0

    def _stopped(self, why: str) -> str:
        return (
            f"stopped at {self.unit} {self.sent + 1} of the input: {why}. The {self.sent} "
            "message(s) before it were sent, nothing after it"
        )

    def summary(self, interrupted: bool = False) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        noun = "message" if self.sent == 1 else "messages"
        text = (
            f"sent {self.sent:,} {noun} to {self.topic} in {elapsed:.2f} s "
            f"({self.sent / elapsed:,.0f} msg/s)"
        )
        if interrupted:
            text = f"interrupted: {text}; nothing after them"
            if self.in_flight:
                text += f" (the {self.in_flight} in flight may be partly stored)"
        return text


async def _listed(values: list[bytes]) -> AsyncIterator[tuple[list[bytes], int]]:
    yield values, 0


Show = Callable[[list[Received]], bool]


def _shower(args: argparse.Namespace) -> Show:
    """The --format as a function writing a batch; False once the reader left."""
    fmt = args.format
    if args.raw:
        if fmt not in (None, "value"):
            raise anymq.ConfigError(f"--raw is --format value; it conflicts with --format {fmt}")
        fmt = "value"
    if fmt == "value":
        return lambda batch: out.data(b"".join(m.body + b"\n" for m in batch))
    if fmt == "json":
        return lambda batch: out.data(b"".join(json_line(m, out.is_terminal) for m in batch))
    if fmt is not None:
        render = template(fmt)
        return lambda batch: out.data(b"".join(render(m, out.is_terminal) for m in batch))

    def human(batch: list[Received]) -> bool:
        lines = []
        for msg in batch:
            where = f"{msg.topic}[{msg.partition}]@{msg.offset}"
            text = printable(msg.body.decode(errors="replace"))
            lines.append(f"{where} key={printable(repr(msg.key))} {text}")
        if out.styled:
            for line in lines:
                out.line(line)
            return not out.gone
        return out.data("".join(line + "\n" for line in lines).encode())

    return human


async def cmd_consume(args: argparse.Namespace) -> int:
    show = _shower(args)
    received = 0
    wait = None if args.follow else args.timeout
    broker = anymq.connect(broker_url(args))
    try:
        async with (
            broker,
            broker.consumer(args.topic, args.group, start=args.start) as consumer,
        ):
            while args.count is None or received < args.count:
                wanted = 100 if args.count is None else min(100, args.count - received)
                batch = await consumer.receive(max_messages=wanted, timeout=wait)
                if not batch:
                    break
                shown = show(batch)
                if shown and not args.no_ack:  # what the reader never got stays unacked
                    await consumer.ack_many(batch)
                received += len(batch)
                if not shown:
                    break
    finally:
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
    add_verbose(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_common(p)
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
        "send messages: the VALUES given, else each line of --file or stdin. Lines are bytes "
        "(any encoding; a \\r is kept) and end at \\n, so any value but one holding a newline "
        "goes through as it is (--format json carries those). Lines go out in batches as "
        "they arrive; one summary line at the end goes to stderr. On an error it says how "
        "many were sent, and nothing after was",
    )
    produce.add_argument("topic", help="the topic to send to")
    produce.add_argument(
        "values", nargs="*", help="messages to send (default: the lines of --file or stdin)"
    )
    produce.add_argument(
        "--file", metavar="PATH", help="read the lines from this file instead of stdin"
    )
    produce.add_argument(
        "--format",
        default="value",
        metavar="FORMAT",
        help="value (default): each line is a message's value; json: each line is an object "
        "with value, key and headers, as `consume --format json` writes it (non-UTF-8 bytes "
        "as base64 with value_encoding etc.)",
    )
    produce.add_argument("--key", help="the key of every message (text; default: none)")
    produce.add_argument(
        "--key-separator",
        metavar="SEP",
        help="each line is KEY SEP VALUE, split at the first SEP (like kcat -K); a line "
        "without SEP is a value without a key",
    )
    produce.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a header on every message (repeat for more); the value is sent as bytes",
    )
    produce.add_argument(
        "--partition",
        type=_partition,
        metavar="N",
        help="send every message to partition N (backends with partitions only)",
    )
    consume = command(
        "consume",
        cmd_consume,
        "receive messages and write them to stdout, one per line, until --count messages, "
        "--timeout seconds without one, or Ctrl-C (exit 130); the count goes to stderr. By "
        "default each line is topic[partition]@offset, key, value, with control characters "
        "(escape sequences, newlines, bidi controls) escaped (\\x1b, \\n, \\u202e) so data "
        "cannot drive the terminal; --format value gives the exact bytes",
    )
    consume.add_argument("topic", help="the topic to read")
    consume.add_argument(
        "--group", help="consumer group: members share the work (default: none, read all)"
    )
    consume.add_argument(
        "--start",
        default="latest",
        choices=["latest", "earliest"],
        help="where to begin when the group has no position yet (default: latest)",
    )
    consume.add_argument(
        "--count", type=_count, help="stop after this many messages (default: no limit)"
    )
    idle = consume.add_mutually_exclusive_group()
    idle.add_argument(
        "--timeout",
        type=_seconds,
        default=5.0,
        help="stop after this many seconds without a message (default: 5)",
    )
    idle.add_argument(
        "--follow",
        action="store_true",
        help="never stop for lack of messages (instead of --timeout): wait for more until "
        "--count or Ctrl-C, like tail -f",
    )
    consume.add_argument(
        "--no-ack",
        action="store_true",
        help="do not acknowledge: with a group, the messages are delivered again later",
    )
    consume.add_argument(
        "--format",
        metavar="FORMAT",
        help="value: each value's bytes as they are, one per line; json: one JSON object "
        "per line (topic, partition, offset, key, headers, value, timestamp in epoch ms, "
        "delivery_count; non-UTF-8 bytes as base64 with value_encoding etc.); or a template "
        "such as '{key}\\t{value}' with those fields (escaped on a terminal, bytes in a pipe)",
    )
    consume.add_argument(
        "--raw",
        action="store_true",
        help="the same as --format value (the exact bytes, for pipes, e.g. into `anymq "
        "produce`); values are not escaped",
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
    configure_logging(args.verbose)
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
