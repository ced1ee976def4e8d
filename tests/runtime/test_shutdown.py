"""Graceful shutdown and health on memory:// (a real log), in-process: a stop drains the
handlers in flight and acks them, one longer than the drain timeout is redelivered, SIGTERM
stops App.run gracefully, and app.health() / the HTTP endpoints report the real state."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest

import anymq
from anymq.errors import ConfigError
from anymq.message import Received
from tests.runtime.helpers import send, unique, until

pytestmark = pytest.mark.anymq


@pytest.fixture
def url() -> str:
    return f"memory://{unique('space')}"


async def topic(url: str, partitions: int = 1) -> str:
    name = unique("t")
    async with anymq.connect(url) as broker:
        await broker.create_topic(name, partitions=partitions)
    return name


async def leftovers(url: str, name: str, group: str, wait: float = 0.3) -> list[Received]:
    """What the group gets on its next run (the redelivered messages)."""
    got: list[Received] = []
    app = anymq.App(url, drain_timeout=0)

    @app.handler(name, group=group, serializer=None, concurrency=8)
    async def record(msg: Received) -> None:
        got.append(msg)

    async with app:
        await asyncio.sleep(wait)
    return got


async def test_a_stop_drains_the_handlers_in_flight_and_acks_them(url: str) -> None:
    name = await topic(url)
    started: list[bytes] = []
    finished: list[bytes] = []
    app = anymq.App(url, drain_timeout=5)

    @app.handler(name, group="g", serializer=None, concurrency=3)
    async def slow(body: bytes) -> None:
        started.append(body)
        await asyncio.sleep(0.3)
        finished.append(body)

    running = asyncio.create_task(app.run(signals=False))
    await until(lambda: bool(app.runners), "the app")
    # three run at once; the key's second and third wait behind its first
    await send(app.broker, name, [(b"a", b"a1"), (b"b", b"b1"), (b"c", b"c1")])
    await send(app.broker, name, [(b"a", b"a2"), (b"a", b"a3")])
    await until(lambda: len(started) == 3, "three handlers in flight")
    loop = asyncio.get_running_loop()
    stopped = loop.time()
    app.stop()
    await asyncio.wait_for(running, 5)
    drain = loop.time() - stopped
    assert sorted(finished) == [b"a1", b"b1", b"c1"]  # the stop waited for them
    assert drain < 1.0, f"the drain took {drain:.2f}s for 0.3s handlers"
    again = await leftovers(url, name, "g")
    assert sorted(m.body for m in again) == [b"a2", b"a3"], "finished work came back"


async def test_a_handler_longer_than_the_drain_timeout_is_redelivered(url: str) -> None:
    name = await topic(url)
    finished: list[bytes] = []
    app = anymq.App(url, drain_timeout=0.2)

    @app.handler(name, group="g", serializer=None, concurrency=2)
    async def handle(body: bytes) -> None:
        await asyncio.sleep(60 if body == b"slow" else 0.05)
        finished.append(body)

    async with app:
        await send(app.broker, name, [(b"1", b"slow"), (b"2", b"quick")])
        await asyncio.sleep(0.01)
        loop = asyncio.get_running_loop()
        stopped = loop.time()
    drain = loop.time() - stopped
    assert finished == [b"quick"]
    assert 0.2 <= drain < 1.0, f"the stop took {drain:.2f}s with drain_timeout=0.2"
    [again] = await leftovers(url, name, "g")
    assert (again.body, again.delivery_count) == (b"slow", 2)


async def test_a_retry_waiting_at_the_stop_is_redelivered(url: str) -> None:
    name = await topic(url)
    app = anymq.App(url, drain_timeout=1)
    tries: list[int] = []

    @app.handler(name, group="g", serializer=None, retry=anymq.Backoff(initial=30, max=30))
    async def fail(msg: Received) -> None:
        tries.append(msg.delivery_count)
        raise TimeoutError("down")

    async with app:
        await send(app.broker, name, [(b"k", b"x")])
        await until(lambda: bool(app.runners[0].retrying), "the retry")
    assert tries == [1]
    [again] = await leftovers(url, name, "g")
    assert again.body == b"x"


@pytest.fixture
def sigterm_guard() -> Iterator[list[int]]:
    """A SIGTERM handler for the test's duration, so a run that does not handle the
    signal itself does not kill pytest; it records what it got."""
    got: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: got.append(signum))
    try:
        yield got
    finally:
        signal.signal(signal.SIGTERM, previous)


async def test_sigterm_stops_app_run_after_draining(url: str, sigterm_guard: list[int]) -> None:
    name = await topic(url)
    finished: list[bytes] = []
    app = anymq.App(url, drain_timeout=5)

    @app.handler(name, group="g", serializer=None)
    async def slow(body: bytes) -> None:
        os.kill(os.getpid(), signal.SIGTERM)  # the stop comes while this handler runs
        await asyncio.sleep(0.2)
        finished.append(body)

    running = asyncio.create_task(app.run())
    await until(lambda: bool(app.runners), "the app")
    await send(app.broker, name, [(None, b"x")])
    await asyncio.wait_for(running, 5)
    assert finished == [b"x"]
    assert sigterm_guard == []  # the app had the signal, not the handler from before
    assert await leftovers(url, name, "g") == []  # acked before the app stopped
    os.kill(os.getpid(), signal.SIGTERM)  # the earlier handler is back in place
    await asyncio.sleep(0.05)
    assert sigterm_guard == [signal.SIGTERM]


async def test_health_reports_the_real_state(url: str) -> None:
    name = await topic(url, partitions=3)
    release = asyncio.Event()
    app = anymq.App(url, drain_timeout=2)

    @app.handler(name, group="g", serializer=None, concurrency=2, on_error={ValueError: "drop"})
    async def wait(body: bytes) -> None:
        if body == b"boom":
            raise ValueError("bad input")
        await release.wait()

    before = await app.health()
    assert (before.running, before.connected, before.ready) == (False, False, False)
    assert before.handlers[0].subscribed is False
    async with app:
        items: list[tuple[bytes | None, bytes]] = [(b"k", b"1"), (b"k", b"2"), (b"j", b"3")]
        await send(app.broker, name, [(b"x", b"boom"), *items])
        await until(lambda: app.runners[0].in_flight == 2, "two handlers in flight")
        health = await app.health()
        release.set()
    [handler] = health.handlers
    assert (health.running, health.connected, health.live, health.ready) == (True,) * 4
    assert (handler.topic, handler.group, handler.subscribed) == (name, "g", True)
    assert (handler.in_flight, handler.waiting) == (2, 1)  # key k's second waits
    assert handler.partitions == (0, 1, 2)
    assert handler.lag == 3  # not acked yet: the two in flight and the waiting one
    assert handler.last_error == "ValueError: bad input"
    after = await app.health()
    assert (after.running, after.connected, after.ready) == (False, False, False)


async def _get(port: int, path: str) -> tuple[int, dict[str, Any]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


async def test_the_health_endpoints_answer_with_the_state(url: str) -> None:
    name = await topic(url)
    release = asyncio.Event()
    app = anymq.App(url, drain_timeout=5)

    @app.handler(name, group="g", serializer=None)
    async def wait(body: bytes) -> None:
        await release.wait()

    running = asyncio.create_task(app.run(signals=False, health_port=0))
    await until(lambda: app.health_address is not None, "the health server")
    assert app.health_address is not None
    port = app.health_address[1]
    status, ready = await _get(port, "/readyz")
    assert (status, ready["ready"], ready["handlers"][0]["subscribed"]) == (200, True, True)
    await send(app.broker, name, [(None, b"x")])
    await until(lambda: app.runners[0].in_flight == 1, "the handler")
    app.stop()  # draining: alive, but no longer ready
    await until(lambda: app.runners[0].draining, "the drain")
    status, draining = await _get(port, "/readyz")
    assert (status, draining["draining"], draining["ready"]) == (503, True, False)
    assert draining["handlers"][0]["in_flight"] == 1
    status, live = await _get(port, "/healthz")
    assert (status, live["live"]) == (200, True)
    assert (await _get(port, "/nope"))[0] == 404
    release.set()
    await asyncio.wait_for(running, 5)
    with pytest.raises(OSError):
        await _get(port, "/healthz")  # the server went with the app


def test_a_bad_drain_timeout_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"drain_timeout must be a number of seconds >= 0"):
        anymq.App(drain_timeout=-1)
    app = anymq.App()
    with pytest.raises(ConfigError, match=r"drain_timeout must be finite"):
        app.drain_timeout = float("inf")
