"""Retries on memory:// (a real log): the backoff is observed, a key waits for its retried
message while other keys go on, per-exception rules, and exhausted retries dead-lettered
with the exception."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import pytest

import anymq
from anymq.deadletter import PREFIX
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


def test_backoff_delays_grow_to_the_cap_and_jitter_only_lengthens() -> None:
    backoff = anymq.Backoff(initial=0.1, max=1.0, multiplier=3.0, jitter=0.0)
    assert [backoff.delay(n) for n in range(1, 5)] == pytest.approx([0.1, 0.3, 0.9, 1.0])
    jittery = anymq.Backoff(initial=1.0, max=10.0, multiplier=2.0, jitter=0.5)
    for attempt in range(1, 6):
        nominal = min(10.0, 2.0 ** (attempt - 1))
        for _ in range(50):
            assert nominal <= jittery.delay(attempt) <= nominal * 1.5


@pytest.mark.parametrize(
    ("backoff", "message"),
    [
        ({"initial": -1}, r"initial must be a number of seconds >= 0"),
        ({"initial": 2, "max": 1}, r"max must be >= initial"),
        ({"multiplier": 0.5}, r"multiplier must be >= 1"),
        ({"jitter": 2}, r"jitter must be between 0 and 1"),
        ({"max": 50_000}, r"max must be at most 43200"),
    ],
)
def test_a_bad_backoff_is_refused(backoff: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        anymq.Backoff(**backoff)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"retry": 0.5}, r"retry must be an anymq.Backoff or None"),
        ({"max_deliveries": 0}, r"max_deliveries must be an int >= 1 or anymq.UNLIMITED"),
        ({"max_deliveries": "forever"}, r"or anymq.UNLIMITED \(retry until it succeeds\)"),
        ({"on_error": {ValueError: "ignore"}}, r"'retry', 'dead_letter' or 'drop'"),
        ({"on_error": {"ValueError": "drop"}}, r"on_error keys must be exception classes"),
        ({"on_error": [ValueError]}, r"on_error must be a mapping"),
    ],
)
def test_bad_retry_options_are_refused(options: dict[str, Any], message: str) -> None:
    app = anymq.App()

    async def handle(payload: Any) -> None: ...

    with pytest.raises(ConfigError, match=message):
        app.handler("orders", **options)(handle)


async def test_retries_wait_the_backoff_and_count_deliveries(url: str) -> None:
    name = await topic(url)
    attempts: list[tuple[int, float]] = []
    app = anymq.App(url)
    backoff = anymq.Backoff(initial=0.1, max=0.25, multiplier=2.0, jitter=0.0)

    @app.handler(name, group="g", serializer=None, retry=backoff, max_deliveries=4)
    async def flaky(body: bytes, msg: Received) -> None:
        attempts.append((msg.delivery_count, time.monotonic()))
        if msg.delivery_count < 4:
            raise TimeoutError("the service did not answer")

    async with app:
        await send(app.broker, name, [(b"k", b"x")])
        await until(lambda: len(attempts) == 4, "four attempts")
        await asyncio.sleep(0.1)
        info = await app.broker.describe_group(name, "g")
    assert [count for count, _ in attempts] == [1, 2, 3, 4]
    gaps = [b - a for (_, a), (_, b) in itertools.pairwise(attempts)]
    for gap, nominal in zip(gaps, [0.1, 0.2, 0.25], strict=True):
        assert nominal - 0.01 <= gap <= nominal + 0.2, f"gaps {gaps}"
    assert (info.backlog, info.in_flight) == (0, 0)  # the fourth attempt was acked


async def test_a_retried_key_waits_while_other_keys_go_on(url: str) -> None:
    """The key's next message starts only after its failed message succeeded; another key
    runs during the backoff, and the retry frees its slot (concurrency=1)."""
    name = await topic(url)
    order: list[bytes] = []
    app = anymq.App(url)

    @app.handler(
        name,
        group="g",
        serializer=None,
        concurrency=1,
        retry=anymq.Backoff(initial=0.3, max=0.3),
    )
    async def handle(body: bytes, msg: Received) -> None:
        if body == b"a1" and msg.delivery_count == 1:
            raise TimeoutError("first try fails")
        order.append(body)

    async with app:
        await send(app.broker, name, [(b"a", b"a1"), (b"a", b"a2"), (b"b", b"b1"), (b"b", b"b2")])
        await until(lambda: len(order) == 4, "every message")
    assert order == [b"b1", b"b2", b"a1", b"a2"]


async def test_exhausted_retries_go_to_the_dead_letter_topic_with_the_exception(
    url: str,
) -> None:
    name = await topic(url)
    attempts: list[int] = []
    handled: list[bytes] = []
    app = anymq.App(url)

    @app.handler(name, group="g", serializer=None, retry=anymq.Backoff(initial=0.01, max=0.02))
    async def fail(body: bytes, msg: Received) -> None:
        if body == b"bad":
            attempts.append(msg.delivery_count)
            raise TimeoutError("still down")
        handled.append(body)

    async with app:
        await send(app.broker, name, [(b"k", b"bad"), (b"k", b"next")])
        async with app.broker.consumer(f"{name}.DLT", "check", start="earliest") as dlt:
            [letter] = await dlt.receive(1, timeout=5.0)
        await until(lambda: handled == [b"next"], "the key's next message")
    assert attempts == [1, 2, 3, 4, 5]  # max_deliveries defaults to 5 with a retry policy
    assert (letter.key, letter.body) == (b"k", b"bad")
    assert letter.headers[PREFIX + "exception-fqcn"] == b"TimeoutError"
    assert letter.headers[PREFIX + "exception-message"] == b"still down"
    assert letter.headers["anymq-delivery-count"] == b"5"
    assert letter.headers[PREFIX + "original-consumer-group"] == b"g"


class Declined(ValueError):
    pass


async def test_rules_per_exception_dead_letter_drop_or_retry(url: str) -> None:
    name = await topic(url)
    seen: list[tuple[bytes, int]] = []
    app = anymq.App(url)
    rules = {ValueError: "dead_letter", KeyError: "drop", Exception: "retry"}

    @app.handler(
        name,
        group="g",
        serializer=None,
        retry=anymq.Backoff(initial=0.01, max=0.01),
        max_deliveries=3,
        on_error=rules,
    )
    async def handle(body: bytes, msg: Received) -> None:
        seen.append((body, msg.delivery_count))
        if body == b"declined":
            raise Declined("card declined")  # a ValueError: the most specific rule wins
        if body == b"unknown":
            raise KeyError("no such customer")
        if body == b"flaky" and msg.delivery_count == 1:
            raise OSError("reset")

    async with app:
        await send(app.broker, name, [(b"1", b"declined"), (b"2", b"unknown"), (b"3", b"flaky")])
        async with app.broker.consumer(f"{name}.DLT", "check", start="earliest") as dlt:
            [letter] = await dlt.receive(1, timeout=5.0)
            await until(lambda: (b"flaky", 2) in seen, "the retry")
            await asyncio.sleep(0.1)
            assert await dlt.receive(5, timeout=0.2) == []  # the dropped one is not there
        info = await app.broker.describe_group(name, "g")
    assert sorted(seen) == [(b"declined", 1), (b"flaky", 1), (b"flaky", 2), (b"unknown", 1)]
    assert letter.body == b"declined"
    assert letter.headers[PREFIX + "exception-fqcn"] == b"tests.runtime.test_retry.Declined"
    assert letter.headers[PREFIX + "exception-message"] == b"card declined"
    assert (info.backlog, info.in_flight) == (0, 0)  # the dropped one was acked


async def test_retries_need_dead_letters_or_a_drop_rule(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = await topic(url)
    from anymq_memory import driver

    caps = driver.CAPABILITIES
    plain = caps.with_features(caps.features - {anymq.Feature.DEAD_LETTER})
    monkeypatch.setattr(driver.MemoryBroker, "capabilities", plain)
    app = anymq.App(url)

    @app.handler(name, group="g", on_poison="reject", retry=anymq.Backoff())
    async def handle(payload: Any) -> None: ...

    with pytest.raises(anymq.UnsupportedFeature, match=r"after max_deliveries"):
        await app.start()
    assert app.runners == []


async def test_unlimited_retries_go_on_past_the_default_and_need_no_dead_letters(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``max_deliveries=anymq.UNLIMITED``: a message is retried until it succeeds (here
    the 8th delivery, past the default 5), and nothing is dead-lettered, so a backend
    without dead letters (RabbitMQ with queue_type=classic) can run such a handler."""
    name = await topic(url)
    from anymq_memory import driver

    caps = driver.CAPABILITIES
    plain = caps.with_features(caps.features - {anymq.Feature.DEAD_LETTER})
    monkeypatch.setattr(driver.MemoryBroker, "capabilities", plain)
    attempts: list[int] = []
    app = anymq.App(url)

    @app.handler(
        name,
        group="g",
        serializer=None,
        on_poison="reject",
        retry=anymq.Backoff(initial=0.01, max=0.01),
        max_deliveries=anymq.UNLIMITED,
    )
    async def handle(body: bytes, msg: Received) -> None:
        attempts.append(msg.delivery_count)
        if msg.delivery_count < 8:
            raise TimeoutError("the service is down")

    async with app:
        await send(app.broker, name, [(b"k", b"x")])
        await until(lambda: len(attempts) == 8, "eight attempts")
        await asyncio.sleep(0.1)
        info = await app.broker.describe_group(name, "g")
    assert attempts == [1, 2, 3, 4, 5, 6, 7, 8]
    assert (info.backlog, info.in_flight) == (0, 0)  # the eighth attempt was acked


async def test_without_a_policy_a_failed_message_is_retried_before_its_key_goes_on(
    url: str,
) -> None:
    """No ``retry=``: the next attempt comes at once, and still before the key's next
    message (before item 3 the key's next message ran while the failed one was requeued)."""
    name = await topic(url)
    order: list[tuple[bytes, int]] = []
    app = anymq.App(url)

    @app.handler(name, group="g", serializer=None, concurrency=4)
    async def handle(body: bytes, msg: Received) -> None:
        order.append((body, msg.delivery_count))
        if body == b"a1" and msg.delivery_count < 3:
            raise RuntimeError("not yet")

    async with app:
        await send(app.broker, name, [(b"a", b"a1"), (b"a", b"a2"), (b"a", b"a3")])
        await until(lambda: len(order) == 5, "every attempt")
    assert order == [(b"a1", 1), (b"a1", 2), (b"a1", 3), (b"a2", 1), (b"a3", 1)]
