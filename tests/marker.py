"""The secrets sweep (issue 18 item 5): connect with a marker secret in one position and
collect every place it shows: reprs, str(url), errors with their causes, and every log line
of every logger at DEBUG (a handler on the root logger, the client libraries' included)."""

from __future__ import annotations

import contextlib
import logging
import traceback
from collections.abc import Iterator

import anymq

MARKER = "s3cr3t-MARKER"

#: The client libraries' loggers, set to DEBUG for the sweep.
LIBRARIES = ("aiokafka", "aio_pika", "aiormq", "botocore", "aiobotocore", "anymq", "asyncio")


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = f"{record.name}: {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            text += "".join(traceback.format_exception(record.exc_info[1]))
        self.lines.append(text)


@contextlib.contextmanager
def debug_logs() -> Iterator[list[str]]:
    """Every log line (with tracebacks) while inside, every library at DEBUG."""
    capture = _Capture()
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in LIBRARIES}
    old_root = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    for name in LIBRARIES:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield capture.lines
    finally:
        root.removeHandler(capture)
        root.setLevel(old_root)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


async def sweep(url: str, *, use: bool = True, **options: object) -> tuple[str, list[str], int]:
    """Connect (and, with ``use``, make a producer), return the outcome ("connected" or the
    error's class), every text shown where ``MARKER`` appears, and how many log lines were
    captured (so a test can tell the libraries did log)."""
    shown: list[str] = []
    outcome = "connected"
    with debug_logs() as lines:
        try:
            broker = anymq.connect(url, **options)
            shown += [repr(broker), str(broker.url), repr(broker.url)]
            async with broker:
                await broker.list_topics()
                if use:
                    async with broker.producer() as producer:
                        shown.append(repr(producer))
        except anymq.AnyMQError as exc:
            outcome = type(exc).__name__
            shown += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    return outcome, [text for text in shown + lines if MARKER in text], len(lines)
