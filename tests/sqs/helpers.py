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


def unique(label: str) -> str:
    """A fresh topic name; the same on a standard and a ?fifo=true URL (no .fifo)."""
    return f"anymq-sqs-{label}-{uuid.uuid4().hex[:8]}"


MOTO_FIFO = Path(__file__).resolve().parents[2] / "compose" / "moto_fifo.py"


@contextlib.contextmanager
def own_moto(
    *, fifo_fix: bool = False, **env: str
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """A moto_server of the test's own on a free port (``env`` adds variables, e.g. to
    check credentials), so it can be frozen or configured without harming the shared one.
    ``fifo_fix``: the one that holds a FIFO message group while a message of it is in
    flight, as AWS does (see moto_fifo.py). Yields once it accepts connections; killed
    (resumed first, if frozen) afterwards."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    command = (
        [sys.executable, str(MOTO_FIFO)]
        if fifo_fix
        else [str(Path(sys.executable).with_name("moto_server"))]
    )
    process = subprocess.Popen(
        [*command, "-H", "127.0.0.1", "-p", str(port)],
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


def is_emulator(url: str) -> bool:
    """True for a local endpoint (moto): ``endpoint_url`` in the query."""
    return "endpoint_url=" in url


def moved_to(url: str, port: int) -> str:
    """``url`` (moto's) pointing at another local port, its other options kept."""
    import anymq

    parsed = anymq.URL.parse(url)
    query = {**parsed.query, "endpoint_url": f"http://127.0.0.1:{port}"}
    return f"sqs://127.0.0.1:{port}?" + "&".join(f"{k}={v}" for k, v in query.items())


@contextlib.contextmanager
def aws_like(url: str) -> Iterator[str]:
    """``url`` itself on AWS; on an emulator, the URL of an own moto_server that keeps
    AWS's FIFO rule (a message group is held while one of its messages is in flight; the
    shared moto 5.2 hands it to two members at once, see moto_fifo.py)."""
    if not is_emulator(url):
        yield url
        return
    with own_moto(fifo_fix=True) as (port, _):
        yield moved_to(url, port)
