"""SIGTERM / SIGINT for a running App: the first asks for a graceful stop, the second ends
the process at once.

Why exit at once on the second: an operator who presses Ctrl-C twice (or an orchestrator
that sends SIGTERM again) wants the process gone now; the messages still in flight are not
settled, so the broker redelivers them, which is exactly what a crash does. The exit status
is the shell's for a death by that signal: 130 for SIGINT, 143 for SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

log = logging.getLogger("anymq.runtime")

SIGNALS = (signal.SIGTERM, signal.SIGINT)


def exit_now(signum: int) -> None:
    """End the process without cleanup: status 128 + the signal number."""
    log.warning(
        "second %s: exiting at once; unsettled messages will be redelivered",
        signal.Signals(signum).name,
    )
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(128 + signum)


@contextlib.contextmanager
def graceful(stop: Callable[[], None]) -> Iterator[bool]:
    """While inside, the first SIGTERM/SIGINT calls ``stop`` and a second one exits at once.

    Yields False (and changes nothing) where signal handlers cannot be installed: outside
    the main thread, or on a loop without ``add_signal_handler`` (Windows' proactor).
    The handlers in place before are restored on the way out.
    """
    loop = asyncio.get_running_loop()
    if threading.current_thread() is not threading.main_thread():
        yield False
        return
    previous: dict[int, Any] = {}
    received: list[int] = []

    def on_signal(signum: int) -> None:
        if received:
            exit_now(signum)
        received.append(signum)
        log.warning(
            "%s: stopping (draining the handlers in flight; send it again to exit at once)",
            signal.Signals(signum).name,
        )
        stop()

    try:
        for sig in SIGNALS:
            previous[sig] = signal.getsignal(sig)
            loop.add_signal_handler(sig, on_signal, int(sig))
    except (NotImplementedError, RuntimeError, ValueError):
        for number, handler in previous.items():
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(number)
                signal.signal(number, handler)
        yield False
        return
    try:
        yield True
    finally:
        for number, handler in previous.items():
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(number)
                if handler is not None:
                    signal.signal(number, handler)
