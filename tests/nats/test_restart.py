"""A NATS server SIGKILLed and started again while a producer sends and a group consumes.

Runs against a private server on its own port (``compose/nats.sh`` with
``ANYMQ_NATS_PORT``), never the shared one. A killed process (not a power loss, which depends on
when JetStream syncs its file store) must lose no confirmed message: each one must be
consumed after the restart. Sends that fail during the outage are retried by the test, so
duplicates are possible and reported, never lost messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import anymq
from anymq.testing.ledger import Ledger

pytestmark = [pytest.mark.nats, pytest.mark.anymq, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
PORT = int(os.environ.get("ANYMQ_NATS_FAULT_PORT", "4232"))
COUNT = 3000


def _script(action: str, directory: Path) -> None:
    env = {**os.environ, "ANYMQ_NATS_PORT": str(PORT), "ANYMQ_NATS_DIR": str(directory)}
    subprocess.run(["bash", str(ROOT / "compose" / "nats.sh"), action], check=True, env=env)


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[Path]:
    _script("start", tmp_path)
    try:
        yield tmp_path
    finally:
        _script("stop", tmp_path)


def _kill_and_start(directory: Path) -> float:
    """SIGKILL the server (no shutdown, no final fsync), start it again; seconds down."""
    started = time.monotonic()
    pid = int((directory / "nats-server.pid").read_text().strip())
    os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, ChildProcessError):
        while True:
            os.kill(pid, 0)
            time.sleep(0.05)
    _script("start", directory)
    return time.monotonic() - started


async def test_server_killed_under_load_loses_no_confirmed_message(
    private_nats: Path,
) -> None:
    url = f"nats://127.0.0.1:{PORT}?connect_timeout=2"
    topic, group = f"anymq-nats-kill-{uuid.uuid4().hex[:8]}", "survivors"
    ledger = Ledger()
    retries = receive_errors = 0
    down: list[float] = []
    async with anymq.connect(url) as broker:
        await broker.create_topic(topic, partitions=3)
        async with broker.consumer(topic, group, prefetch=100) as consumer:
            produced, stop, kill_at = asyncio.Event(), asyncio.Event(), asyncio.Event()

            async def produce() -> None:
                nonlocal retries
                async with broker.producer() as producer:
                    for i in range(COUNT):
                        value = b"m%05d" % i
                        while True:
                            try:
                                await producer.send(topic, value, key=b"k%d" % (i % 10))
                                break
                            except (anymq.BrokerUnavailable, anymq.PublishError):
                                retries += 1  # not confirmed: send it again
                                await asyncio.sleep(0.1)
                        ledger.expect(value)
                        if i == COUNT // 3:
                            kill_at.set()
                produced.set()

            async def kill() -> None:
                await kill_at.wait()
                down.append(await asyncio.to_thread(_kill_and_start, private_nats))

            async def consume() -> None:
                nonlocal receive_errors
                while not stop.is_set():
                    try:
                        for msg in await consumer.receive(max_messages=200, timeout=0.2):
                            ledger.record(msg.value)
                            await msg.ack()
                    except anymq.BrokerUnavailable:
                        receive_errors += 1
                        await asyncio.sleep(0.1)
                    if produced.is_set() and not ledger.lost:
                        stop.set()

            started = time.monotonic()
            reader = asyncio.create_task(consume())
            await asyncio.gather(produce(), kill())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 60)
            stop.set()
            await reader
            elapsed = time.monotonic() - started
        await broker.delete_topic(topic)
    print(
        f"{ledger.summary()}, send retries={retries}, receive errors={receive_errors}, "
        f"down {down[0] if down else float('nan'):.1f}s, run {elapsed:.1f}s"
    )
    assert down, "the server was not killed"
    ledger.assert_complete(exactly_once=False)
