"""The runtime on memory:// (a real log): per-key order under concurrency, at most N in
flight, a bounded buffer, acks only for finished work, redelivery after a crash, poison
messages dead-lettered, results published on."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pytest

import anymq
from anymq.deadletter import PREFIX
from anymq.message import Received
from tests.runtime.helpers import send, unique, until

pytestmark = pytest.mark.anymq


@dataclass
class Order:
    id: int
    total: float


@pytest.fixture
def url() -> str:
    return f"memory://{unique('space')}"


async def topic(url: str, partitions: int = 1, *names: str) -> str:
    name = unique("t")
    async with anymq.connect(url) as broker:
        for each in (name, *names):
            await broker.create_topic(each, partitions=partitions)
    return name


@pytest.mark.parametrize("concurrency", [1, 4, 16])
async def test_per_key_order_holds_under_concurrency(url: str, concurrency: int) -> None:
    """Random handler delays: each key's messages run one at a time, in the order sent,
    while different keys run side by side (up to ``concurrency``, never more)."""
    name = await topic(url, 3)
    keys, per_key = 12, 20
    rng = random.Random(concurrency)
    active: set[bytes] = set()
    seen: dict[bytes, list[int]] = defaultdict(list)
    overlaps: list[bytes] = []
    running = peak = 0
    app = anymq.App(url)

    @app.handler(name, group="g", concurrency=concurrency, serializer=None, start="earliest")
    async def handle(body: bytes, msg: Received) -> None:
        nonlocal running, peak
        key = msg.key or b""
        if key in active:
            overlaps.append(key)
        active.add(key)
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(rng.random() * 0.004)
        seen[key].append(int(body))
        running -= 1
        active.discard(key)

    items = [(b"k%d" % k, b"%d" % i) for i in range(per_key) for k in range(keys)]
    async with app:
        await send(app.broker, name, items)
        await until(lambda: sum(map(len, seen.values())) == len(items), "every message")
    assert overlaps == []
    for key, order in seen.items():
        assert order == list(range(per_key)), key
    assert peak == min(concurrency, keys)  # never above N, and keys did run side by side


async def test_at_most_n_in_flight_and_a_bounded_buffer(url: str) -> None:
    """Keyless messages fill every slot, never more; while all handlers are stuck the
    runner holds at most ``buffer`` more messages unsettled, fetching nothing else."""
    name = await topic(url)
    concurrency, buffer = 5, 3
    release = asyncio.Event()
    running = peak = done = 0
    app = anymq.App(url)

    @app.handler(name, group="g", concurrency=concurrency, buffer=buffer, serializer=None)
    async def handle(body: bytes) -> None:
        nonlocal running, peak, done
        running += 1
        peak = max(peak, running)
        await release.wait()
        running -= 1
        done += 1

    async with app:
        await send(app.broker, name, [(None, b"%d" % i) for i in range(40)])
        await until(lambda: running == concurrency, "every slot busy")
        await asyncio.sleep(0.2)  # time to over-fetch, if it would
        info = await app.broker.describe_group(name, "g")
        assert info.in_flight == concurrency + buffer
        assert info.backlog == 40  # nothing finished, so nothing is committed
        release.set()
        await until(lambda: done == 40, "every message")
        await until(lambda: app.runners[0].in_flight == 0, "the last ack")
        await asyncio.sleep(0.05)
        info = await app.broker.describe_group(name, "g")
        assert (info.in_flight, info.backlog) == (0, 0)
    assert peak == concurrency


async def test_a_crash_mid_handler_redelivers_only_unfinished_work(url: str) -> None:
    """Handlers finish out of order; the run is killed (cancelled) while some are stuck:
    exactly the unfinished messages come back to the next run, finished ones are acked."""
    name = await topic(url)
    stuck = {3, 7, 11}
    finished: set[int] = set()
    first = anymq.App(url)

    @first.handler(name, group="g", concurrency=4, serializer=None)
    async def slow(body: bytes) -> None:
        n = int(body)
        if n in stuck:
            await asyncio.Event().wait()  # never finishes: the crash happens here
        await asyncio.sleep(0.001 * (20 - n))  # later ones finish first
        finished.add(n)

    async with anymq.connect(url) as broker:
        running = asyncio.create_task(first.run())
        await until(lambda: bool(first.runners), "the first run")
        await send(broker, name, [(b"k%d" % n, b"%d" % n) for n in range(20)])
        await until(lambda: len(finished) == 20 - len(stuck), "the handlers that can finish")
        running.cancel()  # the crash: nothing is drained or settled
        with contextlib.suppress(asyncio.CancelledError):
            await running

    again: list[int] = []
    second = anymq.App(url)

    @second.handler(name, group="g", concurrency=4, serializer=None)
    async def record(body: bytes) -> None:
        again.append(int(body))

    async with second:
        await until(lambda: len(again) >= len(stuck), "the redelivery")
        await asyncio.sleep(0.2)  # nothing else comes
    assert sorted(again) == sorted(stuck)


async def test_an_undecodable_payload_is_dead_lettered_without_blocking_its_key(
    url: str,
) -> None:
    name = await topic(url)
    got: list[Order] = []
    app = anymq.App(url)

    @app.handler(name, group="billing", concurrency=2)
    async def bill(order: Order) -> None:
        got.append(order)

    async with app:
        await send(
            app.broker,
            name,
            [
                (b"a", b'{"id": 1, "total": 1}'),
                (b"a", b"not json"),
                (b"a", b'{"id": 2}'),
                (b"a", b'{"id": 3, "total": 3}'),
            ],
        )
        await until(lambda: len(got) == 2, "the good messages")
        async with app.broker.consumer(f"{name}.DLT", "check", start="earliest") as dlt:
            letters = await dlt.receive(10, timeout=1.0)
            letters += await dlt.receive(10, timeout=0.2)
    assert [o.id for o in got] == [1, 3]
    assert [m.body for m in letters] == [b"not json", b'{"id": 2}']
    for letter in letters:
        assert letter.key == b"a"
        assert letter.headers[PREFIX + "original-topic"] == name.encode()
        assert letter.headers[PREFIX + "original-consumer-group"] == b"billing"
        assert letter.headers[PREFIX + "exception-fqcn"] == b"anymq.errors.SerializationError"
    reasons = [m.headers[PREFIX + "exception-message"].decode() for m in letters]
    assert "bill" in reasons[0]
    assert "not valid JSON" in reasons[0]
    assert "missing required field(s) ['total']" in reasons[1]


async def test_a_result_is_published_under_the_incoming_key(url: str) -> None:
    out = unique("out")
    name = await topic(url, 1, out)
    app = anymq.App(url)

    @app.handler(name, group="g", publish_to=out)
    async def double(order: Order) -> dict[str, Any] | None:
        if order.id == 0:
            return None  # nothing is sent
        return {"id": order.id, "total": order.total * 2}

    async with app, app.broker.consumer(out, "check") as check:
        await send(app.broker, name, [(b"k", b'{"id": 0, "total": 1}')])
        await send(app.broker, name, [(b"k", b'{"id": 5, "total": 1.5}')])
        [result] = await check.receive(10, timeout=2.0)
        assert await check.receive(10, timeout=0.2) == []
    assert (result.key, result.body) == (b"k", b'{"id":5,"total":3.0}')


async def test_a_failing_handler_is_retried_and_dead_lettered_after_max_deliveries(
    url: str,
) -> None:
    name = await topic(url)
    attempts: list[int] = []
    app = anymq.App(url)

    @app.handler(name, group="g", serializer=None, max_deliveries=3)
    async def fail(body: bytes, msg: Received) -> None:
        attempts.append(msg.delivery_count)
        raise RuntimeError("boom")

    async with app:
        await send(app.broker, name, [(None, b"x")])
        async with app.broker.consumer(f"{name}.DLT", "check", start="earliest") as dlt:
            [letter] = await dlt.receive(1, timeout=5.0)
    assert attempts == [1, 2, 3]
    assert letter.body == b"x"


async def test_the_handler_can_take_the_message_itself(url: str) -> None:
    name = await topic(url)
    got: list[Received] = []
    app = anymq.App(url)

    @app.handler(name, group="g")
    async def raw(msg: Received) -> None:
        got.append(msg)

    async with app:
        await send(app.broker, name, [(b"k", b"\xff")])
        await until(lambda: bool(got), "the message")
    assert (got[0].key, got[0].body, got[0].settled) == (b"k", b"\xff", True)


async def test_a_backend_without_dead_letters_is_refused_unless_poison_is_rejected(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = await topic(url)
    app = anymq.App(url)

    @app.handler(name, group="g")
    async def handle(payload: Any) -> None: ...

    # memory declares dead letters; a copy of its capabilities without them stands in for
    # a backend that has none (RabbitMQ classic queues), on the same real log
    from anymq_memory import driver

    caps = driver.CAPABILITIES
    plain = caps.with_features(caps.features - {anymq.Feature.DEAD_LETTER})
    monkeypatch.setattr(driver.MemoryBroker, "capabilities", plain)
    with pytest.raises(anymq.UnsupportedFeature, match=r"on_poison='reject'"):
        await app.start()
    assert app.runners == []
    rejecting = anymq.App(url)
    handled: list[dict[str, Any]] = []

    @rejecting.handler(name, group="g", on_poison="reject")
    async def strict(payload: dict[str, Any]) -> None:
        handled.append(payload)

    async with rejecting:
        await send(rejecting.broker, name, [(None, b"[1]"), (None, b'{"a": 1}')])
        await until(lambda: handled == [{"a": 1}], "the good message")
        await asyncio.sleep(0.05)
        info = await rejecting.broker.describe_group(name, "g")
    assert (info.backlog, info.in_flight) == (0, 0)  # the bad one was settled, not stuck


async def test_run_returns_after_stop_and_raises_what_killed_a_runner(url: str) -> None:
    name = await topic(url)
    app = anymq.App(url)

    @app.handler(name, group="g", serializer=None)
    async def stopper(body: bytes) -> None:
        app.stop()

    running = asyncio.create_task(app.run())
    await until(lambda: bool(app.runners), "the app")
    async with anymq.connect(url) as broker:
        await send(broker, name, [(None, b"x")])
        await asyncio.wait_for(running, 5)
        await broker.delete_topic(name)  # the next run's consumer cannot subscribe
    with pytest.raises(anymq.TopicNotFound):
        await app.run()
    assert app.runners == []
