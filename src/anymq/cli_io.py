"""Terminal input and output of the ``anymq`` command: stdin lines and safe printing.

Reading: ``anymq produce`` streams stdin line by line as bytes. A blocking read in the event
loop's thread (or in an executor thread, which ``asyncio.run`` joins at exit) holds the
command until stdin closes, so Ctrl-C would wait for the next line; here a daemon thread
reads and the loop only awaits, which Ctrl-C cancels at once.

Printing: message data comes from whoever produced it. Written to a terminal unescaped, it
can retitle the window, clear the screen, move the cursor or reorder text (bidi overrides),
so everything printed from a message goes through :func:`printable`.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator

CHUNK = 65536


async def stdin_lines(fd: int = 0) -> AsyncIterator[bytes]:
    """The lines of ``fd`` as bytes, without their ``\\n`` (or ``\\r\\n``), as they arrive.

    Lines are bytes, not text: any byte sequence is a valid message body, so input that is
    not UTF-8 is sent as it is instead of failing halfway. A final line without a newline
    counts. The reader thread stays at most one chunk ahead of the consumer.
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
        for line in lines:
            yield line[:-1] if line.endswith(b"\r") else line
    if pending:
        yield pending


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
