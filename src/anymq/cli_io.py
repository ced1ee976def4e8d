"""Terminal input and output of the ``anymq`` command: stdin lines and safe printing.

Reading: ``anymq produce`` streams stdin (or a file) in batches of lines, as bytes. A
blocking read in the event loop's thread (or in an executor thread, which ``asyncio.run``
joins at exit) holds the command until stdin closes, so Ctrl-C would wait for the next
line; here a daemon thread reads and the loop only awaits, which Ctrl-C cancels at once.

Printing: message data comes from whoever produced it. Written to a terminal unescaped, it
can retitle the window, clear the screen, move the cursor or reorder text (bidi overrides),
so everything printed from a message goes through :func:`printable`.
"""

from __future__ import annotations

import asyncio
import os
import stat
import threading
from collections.abc import AsyncIterator

CHUNK = 1 << 18
"""Bytes per read: a batch of lines to send (a read returns what a pipe holds, sooner)."""


async def line_batches(fd: int = 0) -> AsyncIterator[tuple[list[bytes], int]]:
    """The lines of ``fd`` as bytes, without their ``\\n``, in batches as they arrive, each
    with the number of bytes it took from the input (for progress).

    Lines are bytes, not text: any byte sequence but the newline is a valid message body,
    so input that is not UTF-8 is sent as it is, and a ``\\r`` (even before the ``\\n``) is
    kept: it is data. A final line without a newline counts. A batch is every line that
    one read completed, so a line typed at a terminal goes out at once and a file goes out
    in large batches; the reader thread stays at most one read ahead.
    """
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[bytes | OSError] = asyncio.Queue()
    wanted = threading.Semaphore(0)

    def post(item: bytes | OSError) -> bool:
        try:
            loop.call_soon_threadsafe(chunks.put_nowait, item)
        except RuntimeError:  # the loop is closed: the command has ended
            return False
        return True

    def pump() -> None:
        while True:
            try:
                chunk = os.read(fd, CHUNK)
            except OSError as exc:
                post(exc)
                return
            if not post(chunk) or not chunk:
                return
            wanted.acquire()

    threading.Thread(target=pump, name="anymq-stdin", daemon=True).start()
    pending = b""
    while True:
        item = await chunks.get()
        if isinstance(item, OSError):
            raise item
        if not item:
            break
        wanted.release()
        pending += item
        *lines, pending = pending.split(b"\n")
        if lines:
            yield lines, len(item)
        elif len(item):
            yield [], len(item)
    if pending:
        yield [pending], 0


def is_regular_file(fd: int) -> int | None:
    """The size of ``fd`` if it is a regular file (``< data.txt``), else None (a pipe, a
    terminal): only a file's size says how far along the work is."""
    try:
        info = os.fstat(fd)
    except OSError:
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def _escapes() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)):  # C0, DEL, C1
        if code != 0x09:  # tab is harmless and common in text
            table[code] = f"\\x{code:02x}"
    table[0x0A], table[0x0D] = "\\n", "\\r"  # one message per line, no overwriting
    # Bidi controls: they reorder what is shown, so a value can look like something else.
    for code in (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)):
        table[code] = f"\\u{code:04x}"
    return table


ESCAPES = _escapes()


def printable(text: str) -> str:
    """``text`` with control characters (C0 but tab, DEL, C1) and bidi controls escaped."""
    return text.translate(ESCAPES)
