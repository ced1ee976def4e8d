"""What the ``anymq`` command writes: styled on a terminal, plain text in a pipe.

The library does not need rich, so it is an extra (``anymq[cli]``); without it, and whenever
stdout is not a terminal, everything here writes plain lines: tables become tab-separated
rows under a header line (``cut``/``awk`` friendly), nothing is wrapped, no markup leaks.
Callers pass plain text, never rich markup, so a message or URL holding ``[red]`` prints as
it is. Data from messages still goes through :func:`anymq.cli_io.printable` first.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Sequence
from typing import IO, Any

from anymq.cli_io import printable

try:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text
except ImportError:  # pragma: no cover - exercised by the packaging test's bare venv
    Console = None  # type: ignore[assignment,misc]

HAVE_RICH = Console is not None


class Output:
    """One output stream of the command (stdout, or stderr for errors and notes)."""

    def __init__(self, stream: IO[str] | None = None, *, stderr: bool = False) -> None:
        self._stderr = stderr
        self._stream = stream
        self._console: Any = None
        self.gone = False
        """The reader went away (``| head``): stop producing output."""

    @property
    def stream(self) -> IO[str]:
        # looked up at use, not import: tests and redirections swap sys.stdout
        if self._stream is not None:
            return self._stream
        return sys.stderr if self._stderr else sys.stdout

    @property
    def is_terminal(self) -> bool:
        try:
            return self.stream.isatty()
        except (AttributeError, ValueError):
            return False

    @property
    def styled(self) -> bool:
        """Colours and tables only for a person: a terminal, rich installed, no NO_COLOR."""
        return HAVE_RICH and self.is_terminal and "NO_COLOR" not in os.environ

    def _rich(self) -> Any:
        if self._console is None or self._console.file is not self.stream:
            self._console = Console(file=self.stream, soft_wrap=True, highlight=False)
        return self._console

    def line(self, text: str = "", style: str | None = None) -> None:
        """``text`` on one line, never wrapped, ``style`` (a rich style name) on a terminal."""
        if self.styled:
            self._rich().print(Text(text, style=style or ""), soft_wrap=True)
        else:
            self._write(text + "\n")

    def error(self, text: str) -> None:
        """``error: text``, red on a terminal."""
        if self.styled:
            self._rich().print(Text("error: ", style="red") + Text(text), soft_wrap=True)
        else:
            self._write(f"error: {text}\n")

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        """A table on a terminal; else a header line and one tab-separated line per row."""
        if self.styled:
            table = Table(title=title)
            for column in columns:
                table.add_column(column)
            for row in rows:
                table.add_row(*(Text(cell) for cell in row))
            self._rich().print(table)
            return
        lines = ["\t".join(columns), *("\t".join(_cell(c) for c in row) for row in rows)]
        self._write("\n".join(lines) + "\n")

    def data(self, chunk: bytes) -> bool:
        """Message data as it is (bytes, no escaping, no style); False once the reader left."""
        stream = self.stream
        try:
            stream.flush()  # text written before goes out first
            raw: IO[bytes] = stream.buffer  # type: ignore[attr-defined]
            raw.write(chunk)
            raw.flush()
        except BrokenPipeError:
            self._reader_left(stream)
        return not self.gone

    def _write(self, text: str) -> None:
        stream = self.stream
        try:
            stream.write(text)
            stream.flush()
        except BrokenPipeError:
            self._reader_left(stream)

    def _reader_left(self, stream: IO[str]) -> None:
        """`| head`: the reader has what it wanted; later writes go nowhere, quietly."""
        self.gone = True
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())

    def progress(self, total: int, what: str) -> Progress:
        """A bar with rate and time left for ``total`` units of work, on a terminal only."""
        if self.styled:
            return _RichProgress(self._rich(), total, what)
        return Progress()


class Progress:
    """Progress of long work; this one shows nothing (not a terminal, or no rich)."""

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def advance(self, done: int, messages: int) -> None:
        """``done`` more units of the total, ``messages`` more messages sent."""


class _RichProgress(Progress):
    def __init__(self, console: Any, total: int, what: str) -> None:
        from rich import progress

        self._bar = progress.Progress(
            progress.TextColumn("{task.description}"),
            progress.BarColumn(),
            progress.TaskProgressColumn(),
            progress.TextColumn("{task.fields[messages]:,} msg {task.fields[rate]}"),
            progress.TimeRemainingColumn(),
            console=console,
        )
        self._task = self._bar.add_task(what, total=total or 1, messages=0, rate="")
        self._messages = 0
        self._started = time.monotonic()

    def __enter__(self) -> Progress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def advance(self, done: int, messages: int) -> None:
        self._messages += messages
        elapsed = time.monotonic() - self._started
        rate = f"{self._messages / elapsed:,.0f} msg/s" if elapsed > 0 else ""
        self._bar.update(self._task, advance=done, messages=self._messages, rate=rate)


CLIENT_LIBRARIES = ("aiokafka", "kafka", "aio_pika", "aiormq", "pamqp", "aiobotocore", "botocore")
"""Loggers of the broker clients: silent by default, the command's error line says it."""


class _Escaped(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record))  # logs quote broker data too


def configure_logging(verbosity: int) -> None:
    """0: anymq's own warnings only; 1 (-v): the clients' warnings and errors too; 2 (-vv):
    everything at debug level. Without this, Python prints any library's warning (aiokafka's
    "Unable connect to ...") next to the command's own one-line error."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h.formatter, _Escaped)]:
        root.removeHandler(old)  # main() run again in one process: one handler, not two
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Escaped("%(levelname)s %(name)s: %(message)s"))
    if verbosity == 0:
        # Filter at the handler, not by the libraries' logger levels: anymq itself reads
        # some of their records (aiokafka logs the SASL failure reason and nothing else).
        handler.addFilter(_not_client_libraries)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbosity >= 2 else logging.WARNING)


def _not_client_libraries(record: logging.LogRecord) -> bool:
    return record.name.partition(".")[0] not in CLIENT_LIBRARIES


def _cell(text: str) -> str:
    """A table cell on one line: tabs and newlines would break the row apart."""
    return text.replace("\t", " ").replace("\n", " ")


out = Output()
err = Output(stderr=True)
