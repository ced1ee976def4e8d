"""What the ``anymq`` command writes: styled on a terminal, plain text in a pipe.

The library does not need rich, so it is an extra (``anymq[cli]``); without it, and whenever
stdout is not a terminal, everything here writes plain lines: tables become tab-separated
rows under a header line (``cut``/``awk`` friendly), nothing is wrapped, no markup leaks.
Callers pass plain text, never rich markup, so a message or URL holding ``[red]`` prints as
it is. Data from messages still goes through :func:`anymq.cli_io.printable` first.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import IO, Any

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

    def _write(self, text: str) -> None:
        stream = self.stream
        try:
            stream.write(text)
            stream.flush()
        except BrokenPipeError:  # `| head`: the reader has what it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())


def _cell(text: str) -> str:
    """A table cell on one line: tabs and newlines would break the row apart."""
    return text.replace("\t", " ").replace("\n", " ")


out = Output()
err = Output(stderr=True)
