"""Harness shared by the consumer-failover tests: a group member run as a separate OS
process that the test SIGKILLs mid-stream, and a deadline wait for the survivor.

The child script prints ``ready`` once its consumer has started, then one line per
message, ``<word> <value>`` (``ack m0001``, ``held m0002``, ``got m0003``...). What the
child consumes and how it acks stays in each backend's test."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType

import anymq
from anymq.testing.ledger import Ledger


class KilledMember:
    """``async with KilledMember(SCRIPT, *args) as child``: runs ``python -c SCRIPT *args``
    with its stdout piped; ``await child.ready()``, then ``child.acked`` / ``child.held`` /
    ``child.got`` fill up as it reports, and ``await child.kill()`` SIGKILLs it. Leaving
    the block kills and reaps it if it still runs."""

    def __init__(self, script: str, *args: str) -> None:
        self.script = script
        self.args = args
        self.process: asyncio.subprocess.Process | None = None
        self.lines: defaultdict[str, list[bytes]] = defaultdict(list)
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._eof = False

    @property
    def acked(self) -> list[bytes]:
        return self.lines["ack"]

    @property
    def held(self) -> list[bytes]:
        return self.lines["held"]

    @property
    def got(self) -> list[bytes]:
        return self.lines["got"]

    @property
    def returncode(self) -> int | None:
        assert self.process is not None
        return self.process.returncode

    async def __aenter__(self) -> KilledMember:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", self.script, *self.args, stdout=asyncio.subprocess.PIPE
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self.process is not None and self.process.returncode is None:
                self.process.kill()
                await self.process.wait()
        finally:
            if self._reader is not None and not self._reader.done():
                self._reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._reader

    async def ready(self, timeout: float = 60) -> None:
        """Wait for the child's ``ready`` line, then start collecting its reports."""
        assert self.process is not None
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        assert line.strip() == b"ready", line
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        try:
            async for raw in self.process.stdout:
                word, _, value = raw.decode().strip().partition(" ")
                self.lines[word].append(value.encode())
                self._changed.set()
        finally:
            self._eof = True
            self._changed.set()

    async def reported(self, word: str, count: int, timeout: float) -> bool:
        """Wait until the child has reported ``count`` ``word`` lines; False if it has not
        within ``timeout`` seconds (or its output ended first)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.lines[word]) < count:
            remaining = deadline - loop.time()
            if self._eof or remaining <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return True

    async def kill(self) -> float:
        """SIGKILL the child, reap it and read the rest of its reports; returns the
        ``time.monotonic()`` of the kill."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        await self.process.wait()
        if self._reader is not None:
            await self._reader
        return killed_at


async def wait_received(
    ledger: Ledger, values: Iterable[bytes], *, killed_at: float, within: float
) -> None:
    """Wait until the survivor has recorded every one of ``values`` in ``ledger``; fails
    if that has not happened ``within`` seconds of ``killed_at``."""
    wanted = set(values)
    while not wanted <= set(ledger.received):
        assert time.monotonic() - killed_at < within, (
            f"survivor still misses {len(wanted - set(ledger.received))} "
            f"messages {within:g} s after the kill ({ledger.summary()})"
        )
        await asyncio.sleep(0.05)


# -- a partitioned group losing a member to SIGKILL (Redis, NATS) -----------------------------

#: The member that gets killed: acks messages whose number (after the ':') is even, holds the
#: odd ones, reports both on stdout.
PARTITIONED_CHILD = r"""
import asyncio, sys
import anymq

async def main(url, topic, group):
    async with anymq.connect(url) as broker:
        async with broker.consumer(topic, group, prefetch=10) as consumer:
            print("ready", flush=True)
            async for msg in consumer:
                await asyncio.sleep(0.02)
                if int(msg.value.split(b":")[1]) % 2 == 0:
                    await msg.ack()
                    print("ack", msg.value.decode(), flush=True)
                else:
                    print("held", msg.value.decode(), flush=True)

asyncio.run(main(*sys.argv[1:4]))
"""


@dataclass
class Handover:
    """What a SIGKILLed member left, and what the survivor made of it."""

    acked: list[bytes]
    """What the killed member acked (and reported) before the kill."""
    held: set[bytes]
    """What it held unacked when it was killed."""
    seen: dict[bytes, float]
    """Each message the survivor got, with the ``time.monotonic()`` of its first copy."""
    seconds: float
    """From the kill to the survivor's first copy of the last held message."""
    ledger: Ledger

    def assert_handed_over(self, within: float) -> None:
        """Every held message reached the survivor within ``within`` seconds of the kill;
        nothing the killed member acked came back; nothing was lost."""
        assert self.held <= set(self.seen), "a message the dead member held never came back"
        assert not set(self.acked) & set(self.seen), "a message the child acked came back"
        assert self.seconds <= within, f"handover took {self.seconds:.1f}s"
        self.ledger.assert_complete()


async def kill_a_partitioned_member(url: str, topic: str, *, partitions: int = 4) -> Handover:
    """A group of two on a ``partitions``-partition topic: one member in this process, the
    other a child (PARTITIONED_CHILD) SIGKILLed once it holds 6 messages unacked; 10
    messages on each of 16 keys are sent after both started. Waits until the survivor got
    every message the child did not ack, then deletes the topic."""
    group = "workers"
    keys = [b"k%d" % k for k in range(16)]
    ledger = Ledger()
    seen: dict[bytes, float] = {}
    async with anymq.connect(url) as broker:
        await broker.create_topic(topic, partitions=partitions)
        try:
            survivor = broker.consumer(topic, group, prefetch=10)
            await survivor.start()
            async with KilledMember(PARTITIONED_CHILD, url, topic, group) as child:
                await child.ready()
                async with broker.producer() as producer:
                    await producer.send_batch(
                        topic,
                        [
                            anymq.Message(ledger.expect(b"%s:%d" % (key, seq), key), key=key)
                            for seq in range(10)
                            for key in keys
                        ],
                    )
                stop = asyncio.Event()

                async def drain() -> None:
                    while not stop.is_set():
                        for msg in await survivor.receive(10, timeout=0.2):
                            seen.setdefault(msg.value, time.monotonic())
                            ledger.record(msg.value)
                            await msg.ack()

                draining = asyncio.create_task(drain())
                assert await child.reported("held", 6, timeout=60), "the child never got to work"
                killed_at = await child.kill()
                held = set(child.held)
                for value in child.acked:
                    ledger.record(value)
                await wait_received(ledger, ledger.sent, killed_at=killed_at, within=30)
                seconds = max(seen[v] for v in held) - killed_at
                stop.set()
                await draining
                await survivor.close()
        finally:
            await broker.delete_topic(topic)
    return Handover(list(child.acked), held, seen, seconds, ledger)
