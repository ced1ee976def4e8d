"""``anymq run`` in a child process on real brokers (Kafka, RabbitMQ): SIGTERM mid-handler
drains and acks (nothing comes back to the next run), a handler longer than the drain
timeout is redelivered to the next run, a second signal exits at once (143), and the
health endpoint answers with the child's real state. The drain times are printed (-s)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import anymq
from anymq.message import Received
from tests.runtime.helpers import send, unique

pytestmark = pytest.mark.anymq

ROOT = Path(__file__).resolve().parents[2]
BACKENDS = [
    pytest.param("kafka", marks=pytest.mark.kafka),
    pytest.param("rabbitmq", marks=pytest.mark.rabbitmq),
]


@pytest.fixture(params=BACKENDS)
def broker_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Child:
    process: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)

    async def expect(self, count: int, word: str, timeout: float = 60) -> None:
        """Read stdout until ``count`` lines start with ``word``."""
        assert self.process.stdout is not None
        async with asyncio.timeout(timeout):
            while sum(line.startswith(word) for line in self.lines) < count:
                line = await self.process.stdout.readline()
                assert line, f"the child ended early (code {await self.process.wait()})"
                self.lines.append(line.decode().strip())

    async def rest(self) -> None:
        assert self.process.stdout is not None
        self.lines += [x.strip() for x in (await self.process.stdout.read()).decode().splitlines()]

    def names(self, word: str) -> list[str]:
        return sorted(line.split()[1] for line in self.lines if line.startswith(word))


@dataclass
class Setup:
    url: str
    topic: str
    group: str
    broker: anymq.Broker

    async def run(self, *args: str) -> Child:
        env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join(p for p in sys.path if p),
            ANYMQ_TEST_TOPIC=self.topic,
            ANYMQ_TEST_GROUP=self.group,
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "anymq", "run", "tests.runtime.apps:sleepy",
            "--url", self.url, *args,
            cwd=ROOT, env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        return Child(process)

    async def leftovers(self, wait: float = 3.0) -> list[Received]:
        """What the group gets on its next run: the redelivered messages."""
        got: list[Received] = []
        app = anymq.App(self.url, drain_timeout=0)

        @app.handler(self.topic, group=self.group, serializer=None, concurrency=8)
        async def record(msg: Received) -> None:
            got.append(msg)

        async with app:
            await asyncio.sleep(wait)
        return got


@contextlib.asynccontextmanager
async def prepared(broker_url: str) -> AsyncIterator[Setup]:
    topic, group = unique("sd"), unique("g")
    async with anymq.connect(broker_url) as broker:
        await broker.create_topic(topic)
        await broker.create_group(topic, group)  # messages sent now wait for the child
        try:
            yield Setup(broker_url, topic, group, broker)
        finally:
            await broker.delete_topic(topic)


async def stop(child: Child, sig: int = signal.SIGTERM) -> float:
    """Signal the child; seconds until it exited."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    child.process.send_signal(sig)
    await asyncio.wait_for(child.process.wait(), 60)
    return loop.time() - started


async def test_sigterm_mid_handler_drains_and_acks(broker_url: str) -> None:
    async with prepared(broker_url) as setup:
        await _test_sigterm_mid_handler_drains_and_acks(setup)


async def _test_sigterm_mid_handler_drains_and_acks(setup: Setup) -> None:
    await send(setup.broker, setup.topic, [(None, b"m%d:1.5" % n) for n in range(3)])
    child = await setup.run("--drain-timeout", "30")
    try:
        await child.expect(3, "start")
        took = await stop(child)
        await child.rest()
    finally:
        if child.process.returncode is None:
            child.process.kill()
    print(f"\n{setup.url.split(':')[0]}: SIGTERM drain + close took {took:.2f}s")
    assert child.process.returncode == 0
    assert child.names("done") == ["m0", "m1", "m2"]
    assert await setup.leftovers() == [], "finished and acked work was redelivered"


async def test_a_handler_longer_than_the_drain_timeout_is_redelivered(broker_url: str) -> None:
    async with prepared(broker_url) as setup:
        await _test_a_handler_longer_than_the_drain_timeout_is_redelivered(setup)


async def _test_a_handler_longer_than_the_drain_timeout_is_redelivered(setup: Setup) -> None:
    await send(setup.broker, setup.topic, [(None, b"slow:120"), (None, b"quick:0.5")])
    child = await setup.run("--drain-timeout", "1.5")
    try:
        await child.expect(2, "start")
        await child.expect(1, "done")
        took = await stop(child)
        await child.rest()
    finally:
        if child.process.returncode is None:
            child.process.kill()
    print(f"\n{setup.url.split(':')[0]}: stop with a 1.5 s drain timeout took {took:.2f}s")
    assert child.process.returncode == 0
    assert child.names("done") == ["quick"]
    assert 1.5 <= took < 20
    again = await setup.leftovers()
    assert [m.body for m in again] == [b"slow:120"]


async def test_a_second_signal_exits_at_once(broker_url: str) -> None:
    async with prepared(broker_url) as setup:
        await _test_a_second_signal_exits_at_once(setup)


async def _test_a_second_signal_exits_at_once(setup: Setup) -> None:
    await send(setup.broker, setup.topic, [(None, b"slow:120")])
    child = await setup.run("--drain-timeout", "60")
    try:
        await child.expect(1, "start")
        child.process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.5)  # draining now
        took = await stop(child)
    finally:
        if child.process.returncode is None:
            child.process.kill()
    assert child.process.returncode == 128 + signal.SIGTERM
    assert took < 2.0, f"the second SIGTERM took {took:.2f}s"
    again = await setup.leftovers(wait=15.0 if setup.url.startswith("kafka") else 3.0)
    assert [m.body for m in again] == [b"slow:120"]  # nothing settled: redelivered


async def _get(port: int, path: str) -> tuple[int, dict[str, Any]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\n\r\n".encode())
    raw = await reader.read()
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


async def test_the_health_endpoint_answers_with_real_state(broker_url: str) -> None:
    async with prepared(broker_url) as setup:
        await _test_the_health_endpoint_answers_with_real_state(setup)


async def _test_the_health_endpoint_answers_with_real_state(setup: Setup) -> None:
    port = free_port()
    await send(setup.broker, setup.topic, [(None, b"a:120"), (None, b"b:120")])
    child = await setup.run("--drain-timeout", "0", "--health-port", str(port))
    try:
        await child.expect(2, "start")
        status, ready = await _get(port, "/readyz")
        live_status, live = await _get(port, "/healthz")
        took = await stop(child)
    finally:
        if child.process.returncode is None:
            child.process.kill()
    assert (status, live_status, ready["ready"], live["live"]) == (200, 200, True, True)
    [handler] = ready["handlers"]
    assert (handler["topic"], handler["group"]) == (setup.topic, setup.group)
    assert (handler["subscribed"], handler["in_flight"]) == (True, 2)
    if setup.url.startswith("kafka"):  # a log: the unfinished ones are behind the commit
        assert (handler["partitions"], handler["lag"]) == ([0], 2)
    else:  # a queue: both were delivered, none waits (RabbitMQ does not count unacked)
        assert handler["lag"] == 0
    assert child.process.returncode == 0
    assert took < 20
