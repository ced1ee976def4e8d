"""A group member a contract test can crash: a process it SIGKILLs, or for a backend whose
broker lives in the test's own process, the closest the API allows.

Both kinds run :func:`anymq.testing.member.ack_then_hold` (ack the first messages, hold the
rest unacked) and keep what the member got and acked as :class:`~anymq.testing.keylog.Delivery`
events (an ack is announced before it is sent, so a kill between the two cannot hide one).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
from typing import Any

from anymq.client import Broker, Consumer
from anymq.testing.context import TestContext
from anymq.testing.keylog import Delivery, parse
from anymq.testing.member import PLUGINS_VARIABLE, URL_VARIABLE, ack_then_hold

NAME = "killed"


class Victim:
    """What the test sees of the member it will crash."""

    def __init__(self) -> None:
        self.events: list[Delivery] = []
        """Its deliveries and (announced) acks, as :class:`~anymq.testing.keylog.KeyLog`
        events."""
        self.acked: set[tuple[bytes, int]] = set()
        self.held = 0
        """Messages received and not acked (not counting redeliveries of acked ones)."""

    def _report(self, event: dict[str, Any]) -> None:
        key, seq = parse(str(event["body"]).encode())
        assert key == str(event["key"]).encode(), f"key and body disagree: {event}"
        got = Delivery(NAME, key, seq, event["partition"], event["count"], at=event["at"])
        self.events.append(got)
        if event["acked"]:
            self.events.append(Delivery(NAME, key, seq, got.partition, got.count, True, got.at))
            self.acked.add((key, seq))
        elif (key, seq) not in self.acked:
            self.held += 1

    async def kill(self) -> None:
        raise NotImplementedError

    async def cleanup(self) -> None:
        """Whatever happened to the test: nothing of the member outlives it."""


class ChildVictim(Victim):
    """The member runs in ``python -m anymq.testing.member``; ``kill`` is SIGKILL."""

    def __init__(self, process: asyncio.subprocess.Process, stderr: Any) -> None:
        super().__init__()
        self.process = process
        self.stderr = stderr
        self.ready = asyncio.Event()
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, ctx: TestContext, topic: str, group: str, ack_first: int) -> ChildVictim:
        # The child imports exactly what this process imports (its sys.path), and gets the
        # URL in its environment, not on a command line other users can read.
        # Backends registered at run time (not through entry points) are registered there
        # too, as ``anymq compare`` does for its suite process.
        from anymq.compare.behaviour import runtime_plugins

        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        env[URL_VARIABLE] = ctx.url
        env[PLUGINS_VARIABLE] = json.dumps(runtime_plugins())
        stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in cleanup()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "anymq.testing.member",
            topic,
            group,
            str(ack_first),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            env=env,
        )
        victim = cls(process, stderr)
        try:
            await asyncio.wait_for(
                asyncio.wait(
                    [asyncio.ensure_future(victim.ready.wait()), victim.reader],
                    return_when=asyncio.FIRST_COMPLETED,
                ),
                ctx.timeout,
            )
            if not victim.ready.is_set():
                raise AssertionError(f"the member process ended before joining: {victim.log()}")
        except BaseException:
            await victim.cleanup()
            raise
        return victim

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            event = json.loads(line)
            if event.get("ready"):
                self.ready.set()
            else:
                self._report(event)

    def log(self) -> str:
        self.stderr.seek(0)
        text: str = self.stderr.read().decode(errors="replace")
        return text[-2000:] or "(no output)"

    async def kill(self) -> None:
        """SIGKILL, then read what the member reported before it died."""
        if self.process.returncode is not None:
            raise AssertionError(
                f"the member process died by itself (code {self.process.returncode}): {self.log()}"
            )
        self.process.kill()
        await self.process.wait()
        await self.reader
        assert self.process.returncode == -signal.SIGKILL, self.process.returncode

    async def cleanup(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()
        self.reader.cancel()
        with contextlib.suppress(BaseException):
            await self.reader
        self.stderr.close()


class LocalVictim(Victim):
    """For a broker inside this process (``Capabilities.in_process``) there is no process to
    kill: the member's task is cancelled mid-receive and its consumer closed without acking
    what it holds, on a connection of its own. A kill gives the broker no close at all; an
    in-process broker cannot tell the difference, as nothing but the close tells it."""

    def __init__(self, consumer: Consumer, ack_first: int) -> None:
        super().__init__()
        self.consumer = consumer
        self.task = asyncio.create_task(ack_then_hold(consumer, ack_first, self._report))

    @classmethod
    async def start(cls, broker: Broker, topic: str, group: str, ack_first: int) -> LocalVictim:
        consumer = broker.consumer(topic, group, prefetch=10)
        await consumer.start()
        return cls(consumer, ack_first)

    async def kill(self) -> None:
        if self.task.done():
            self.task.result()  # it failed by itself: show how
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.consumer.close()

    async def cleanup(self) -> None:
        self.task.cancel()
        with contextlib.suppress(BaseException):
            await self.task
        await self.consumer.close()
