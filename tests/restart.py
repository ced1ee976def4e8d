"""Harness shared by the server-restart-under-load tests of Redis and NATS: a private server
started by its compose/ script on a port of its own (never the shared one), SIGKILLed and
started again while a producer sends with confirms and a group consumes.

Sends that fail during the outage are retried (so duplicates are possible and reported);
every confirmed message must be consumed after the restart."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import anymq
from anymq.testing.ledger import Ledger

ROOT = Path(__file__).resolve().parent.parent
COUNT = 3000


@dataclass(frozen=True)
class PrivateServer:
    """A server run by ``compose/<script>`` with its port and state directory overridden."""

    script: str
    """e.g. "redis.sh"; it reads ANYMQ_<KIND>_PORT and ANYMQ_<KIND>_DIR."""
    kind: str
    """REDIS or NATS: the middle of those variable names."""
    port: int
    directory: Path
    pidfile: str
    """The pid file's name inside ``directory``."""

    def run(self, action: str) -> None:
        env = {
            **os.environ,
            f"ANYMQ_{self.kind}_PORT": str(self.port),
            f"ANYMQ_{self.kind}_DIR": str(self.directory),
        }
        subprocess.run(["bash", str(ROOT / "compose" / self.script), action], check=True, env=env)

    def kill_and_start(self) -> float:
        """SIGKILL the server (no shutdown, no final fsync), start it again; seconds down."""
        started = time.monotonic()
        pid = int((self.directory / self.pidfile).read_text().strip())
        os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            while True:
                os.kill(pid, 0)
                time.sleep(0.05)
        self.run("start")
        return time.monotonic() - started


async def confirmed_load_across_a_kill(url: str, server: PrivateServer, topic: str) -> None:
    """Send COUNT messages one at a time on 10 keys over 3 partitions, kill and start the
    server at a third of them, consume with a group throughout; then assert nothing
    confirmed was lost (duplicates allowed and printed)."""
    group = "survivors"
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
                down.append(await asyncio.to_thread(server.kill_and_start))

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
