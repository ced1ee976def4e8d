"""Contract: generated input ends in an anymq error before anything is sent, or in a
faithful round trip; never a hang, a foreign exception or a producer that stops working.

hypothesis draws the keys, headers, values, batches, topic names and timeouts (its
strategies favour the edges: empty, huge, lone surrogates, reserved names, the metadata
limit plus or minus one). The examples are drawn first and then sent to the broker one by
one, so a failure names the exact example (hypothesis does not shrink it: the broker's
state would not repeat).
"""

from __future__ import annotations

import asyncio
import math
import random
from collections import Counter
from collections.abc import Awaitable
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import anymq
from anymq.testing.context import TestContext

T = TypeVar("T")

#: Batches of messages drawn per backend (up to 4 messages each).
BATCHES = 30
#: Topic names drawn per backend (each one is created, used and deleted).
NAMES = 10
#: Timeouts drawn per backend.
TIMEOUTS = 25
#: Seconds any single call may take before the test calls it a hang.
HANG = 30.0

Wire = tuple[bytes, bytes | None, tuple[tuple[str, bytes], ...]]
"""A message as it must arrive: value, key, headers (str given as UTF-8 bytes)."""


def draw(strategy: st.SearchStrategy[T], count: int) -> list[T]:
    """``count`` examples of ``strategy``, the same ones on every run (derandomized)."""
    found: list[T] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    @given(strategy)
    def collect(example: T) -> None:
        found.append(example)

    collect()
    return found


#: The share of generated messages that break one rule.
BREAK = 0.12


def _broken(message: dict[str, Any], rnd: random.Random, ctx: TestContext) -> dict[str, Any]:
    """``message`` as drawn, or (with probability BREAK) with one rule broken: an
    unencodable key, header name or value, an empty or reserved header name, or a key at
    the metadata limit -1 to +2 (the limit itself is valid)."""
    if rnd.random() >= BREAK:
        return message
    rule = ctx.capabilities.headers
    reserved = sorted(rule.reserved) + [prefix + "x" for prefix in rule.reserved_prefixes]
    odd = rnd.choice(["a\udfffb", "\ud800"])
    out = dict(message, headers=dict(message["headers"]))
    match rnd.randrange(5):
        case 0:
            out["key"] = odd
        case 1:
            out["headers"][rnd.choice(["", odd, *reserved])] = b"v"
        case 2:
            out["headers"]["h"] = odd
        case _:
            out["headers"] = {}
            out["key"] = b"k" * (ctx.capabilities.max_metadata_bytes + rnd.randint(-1, 2))
    return out


def messages(ctx: TestContext) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Batches of up to four messages: keys, header names and values of any text or bytes
    (empty, control characters, astral planes), about one message in eight with a rule
    broken (see :func:`_broken`), so most batches go out and some are refused."""
    text = st.text(max_size=24)
    data = st.binary(max_size=48) | text
    message = st.fixed_dictionaries(
        {
            "value": st.binary(max_size=512),
            "key": st.none() | data,
            "headers": st.dictionaries(st.text(min_size=1, max_size=24), data, max_size=3),
        }
    )
    drawn = st.builds(
        lambda m, rnd: _broken(m, rnd, ctx), message, st.randoms(use_true_random=True)
    )
    return st.lists(drawn, min_size=1, max_size=4)


def wire(value: bytes, key: bytes | str | None, headers: dict[str, bytes | str]) -> Wire:
    def raw(data: bytes | str) -> bytes:
        return data.encode() if isinstance(data, str) else data

    return (
        value,
        None if key is None else raw(key),
        tuple(sorted((name, raw(v)) for name, v in headers.items())),
    )


async def _bounded(awaitable: Awaitable[T], what: str) -> T:
    try:
        async with asyncio.timeout(HANG):
            return await awaitable
    except TimeoutError:
        raise AssertionError(f"{what} hung for {HANG:g}s") from None


#: What a refusal of input may be: raised before anything is sent or created.
REFUSALS = (
    anymq.ConfigError,
    anymq.SerializationError,
    anymq.MessageTooLarge,
    anymq.InvalidTopicName,
)


def _refusal(exc: BaseException, example: object) -> None:
    """A refusal must be anymq's own input error (not a foreign one, not a delivery doubt)."""
    assert isinstance(exc, anymq.AnyMQError), (
        f"{example!r} raised a foreign {type(exc).__module__}.{type(exc).__name__}: {exc}"
    )
    assert isinstance(exc, REFUSALS), (
        f"{example!r} was refused with {type(exc).__name__} ({exc}); a refusal of input is a "
        "ConfigError, SerializationError, MessageTooLarge or InvalidTopicName"
    )


def _names_the_timeout(exc: BaseException, timeout: object) -> None:
    assert "timeout" in str(exc), f"receive(1, {timeout!r}) was refused without naming it: {exc}"


class GeneratedInputContract:
    """Generated keys, headers, values, batches, topic names and timeouts."""

    async def test_generated_messages_round_trip_or_are_refused(self, ctx: TestContext) -> None:
        batches = draw(messages(ctx), BATCHES)
        expected: Counter[Wire] = Counter()
        refused = 0
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            async with (
                broker.consumer(topic, ctx.group()) as consumer,
                broker.producer() as producer,
            ):
                got: list[Wire] = []
                for batch in batches:
                    try:  # building the Message may refuse the input already
                        out = [anymq.Message(**m) for m in batch]
                        if len(out) == 1:
                            m = batch[0]
                            await _bounded(
                                producer.send(
                                    topic, m["value"], key=m["key"], headers=m["headers"]
                                ),
                                f"send of {batch!r}",
                            )
                        else:
                            await _bounded(
                                producer.send_batch(topic, out),
                                f"send_batch of {batch!r}",
                            )
                    except Exception as exc:  # checked: anymq's refusal, nothing sent
                        _refusal(exc, batch)
                        refused += 1
                        continue
                    sent = [wire(m["value"], m["key"], m["headers"]) for m in batch]
                    expected.update(sent)
                    arrived = await ctx.collect(consumer, len(sent))
                    got += [wire(r.value, r.key, dict(r.headers)) for r in arrived]
                got += [
                    wire(r.value, r.key, dict(r.headers)) for r in await ctx.quiet_receive(consumer)
                ]
        ctx.observe("generated_batches_refused", refused)
        received = Counter(got)
        missing = expected - received
        extra = received - expected
        assert not missing, f"sent but not received (or changed on the way): {list(missing)[:3]}"
        assert not extra, (
            f"received but never sent as such (a refused message went out, or one changed): "
            f"{list(extra)[:3]}"
        )
        assert sum(expected.values()) > 0, "every generated batch was refused"

    async def test_generated_topic_names_work_or_are_refused(self, ctx: TestContext) -> None:
        suffixes = draw(
            st.one_of(st.from_regex(r"[a-z0-9._-]{1,40}", fullmatch=True), st.text(max_size=60))
            | st.sampled_from(["x" * 300, "é", "a b", "\ud800"]),
            NAMES,
        )
        created = 0
        async with ctx.broker() as broker, broker.producer() as producer:
            for n, suffix in enumerate(suffixes):
                name = f"{ctx.name(f'n{n}')}-{suffix}"
                try:
                    await _bounded(broker.create_topic(name), f"create {name!r}")
                except Exception as exc:  # checked: anymq's refusal, nothing created
                    _refusal(exc, name)
                    assert name not in await broker.list_topics(), (
                        f"{name!r} was refused but created"
                    )
                    continue
                created += 1
                try:
                    async with broker.consumer(name, ctx.group(f"g{n}")) as consumer:
                        await producer.send(name, b"named")
                        got = await ctx.collect(consumer, 1)
                    assert [m.value for m in got] == [b"named"], f"topic {name!r}: {got}"
                    assert [m.topic for m in got] == [name], "the topic name came back changed"
                finally:
                    await broker.delete_topic(name)
        assert created > 0, "every generated topic name was refused"

    async def test_generated_timeouts_return_or_are_refused(self, ctx: TestContext) -> None:
        timeouts = draw(
            st.floats(allow_nan=True, allow_infinity=True)
            | st.floats(min_value=0, max_value=2)
            | st.integers(-3, 10**12)
            | st.sampled_from([0, -0.0, 1e-300, 1e300, True, math.inf]),
            TIMEOUTS,
        )
        accepted = 0
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            async with (
                broker.consumer(topic, ctx.group()) as consumer,
                broker.producer() as producer,
            ):
                await producer.send_batch(topic, [b"t%d" % i for i in range(len(timeouts))])
                got: list[bytes] = []
                for timeout in timeouts:
                    try:
                        batch = await _bounded(
                            consumer.receive(1, timeout), f"receive(1, {timeout!r})"
                        )
                    except anymq.ConfigError as exc:
                        _names_the_timeout(exc, timeout)
                        continue
                    accepted += 1
                    assert len(batch) <= 1
                    for msg in batch:
                        await msg.ack()
                        got.append(msg.value)
                rest = await ctx.collect(consumer, len(timeouts) - len(got))
                got += [m.value for m in rest]
        assert sorted(got) == sorted(b"t%d" % i for i in range(len(timeouts))), (
            "a receive with a generated timeout lost or duplicated a message"
        )
        assert accepted > 0
