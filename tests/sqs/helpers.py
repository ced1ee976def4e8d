"""Small helpers shared by the SQS backend tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path


def with_options(url: str, **options: object) -> str:
    """``url`` with query options added (the fixture URL may already have some)."""
    extra = "&".join(
        f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in options.items()
    )
    if not extra:
        return url
    return f"{url}{'&' if '?' in url else '?'}{extra}"


def unique(label: str, fifo: bool = False) -> str:
    return f"anymq-sqs-{label}-{uuid.uuid4().hex[:8]}" + (".fifo" if fifo else "")


@contextlib.contextmanager
def own_moto(**env: str) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """A moto_server of the test's own on a free port (``env`` adds variables, e.g. to
    check credentials), so it can be frozen or configured without harming the shared one.
    Yields once it accepts connections; killed (resumed first, if frozen) afterwards."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"moto_server on port {port} did not start") from None
                time.sleep(0.1)
        yield port, process
    finally:
        process.send_signal(signal.SIGCONT)
        process.kill()
        process.wait()
