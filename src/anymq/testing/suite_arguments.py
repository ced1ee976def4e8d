"""Contract: bad timeouts, counts and delays fail at once with a ConfigError naming them.

NaN compares false with everything, so a ``timeout < 0`` check lets it through and the
driver then waits forever; every call here is bounded by ``asyncio.wait_for`` so a
regression fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

import anymq
from anymq.features import Feature
from anymq.testing.context import TestContext

#: How long a refusal may take: it must come before any waiting.
PROMPT = 5.0

BAD_SECONDS: tuple[Any, ...] = (math.nan, math.inf, -math.inf, -1, -0.5, "1", True, b"1")
BAD_COUNTS: tuple[Any, ...] = (0, -1, True, 1.5, "3", math.nan, None)


def _assert_names(info: pytest.ExceptionInfo[anymq.ConfigError], name: str, bad: Any) -> None:
    text = str(info.value)
    assert name in text, f"the error does not name {name!r}: {text}"
    assert repr(bad) in text, f"the error does not show the bad value {bad!r}: {text}"
    assert ">= 0" in text, f"the error does not give the allowed range: {text}"


class ArgumentContract:
    """receive(), nack() and send() refuse NaN, infinity, negatives, strings and bools."""

    async def test_receive_refuses_bad_timeout_and_count(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            async with broker.consumer(topic, ctx.group()) as consumer:
                # Nothing is waiting yet: a timeout that got through would wait (or hang).
                for bad in BAD_SECONDS:
                    with pytest.raises(anymq.ConfigError) as info:
                        await asyncio.wait_for(consumer.receive(timeout=bad), PROMPT)
                    _assert_names(info, "timeout", bad)
                    assert "None" in str(info.value), "the error does not say None is allowed"
                for bad in BAD_COUNTS:
                    with pytest.raises(anymq.ConfigError) as info:
                        await asyncio.wait_for(
                            consumer.receive(max_messages=bad, timeout=0), PROMPT
                        )
                    assert "max_messages" in str(info.value)
                    assert repr(bad) in str(info.value)
                async with broker.producer() as producer:
                    await producer.send(topic, b"kept")
                got = await ctx.collect(consumer, 1)
            assert [m.value for m in got] == [b"kept"], (
                f"a refused receive consumed a message: expected [b'kept'], got "
                f"{[m.value for m in got]}"
            )

    async def test_nack_refuses_bad_delay(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            async with broker.consumer(topic, ctx.group()) as consumer:
                async with broker.producer() as producer:
                    await producer.send(topic, b"nack-me")
                msg = await ctx.receive_one(consumer, "b'nack-me'", ack=False)
                for bad in BAD_SECONDS:
                    with pytest.raises(anymq.ConfigError) as info:
                        await asyncio.wait_for(msg.nack(delay=bad), PROMPT)
                    _assert_names(info, "delay", bad)
                    assert not msg.settled, f"a refused nack(delay={bad!r}) settled the message"
                await msg.ack()
                assert msg.settled
                assert await ctx.quiet_receive(consumer) == [], "the acked message came back"

    async def test_send_refuses_bad_delay_and_linger(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            for bad in BAD_SECONDS:
                with pytest.raises(anymq.ConfigError) as info:
                    broker.producer(linger=bad)
                _assert_names(info, "linger", bad)
            async with broker.consumer(topic, ctx.group()) as consumer:
                async with broker.producer() as producer:
                    for bad in BAD_SECONDS:
                        if ctx.has(Feature.DELAYED_DELIVERY):
                            with pytest.raises(anymq.ConfigError) as info:
                                await asyncio.wait_for(
                                    producer.send(topic, b"bad", delay=bad), PROMPT
                                )
                            _assert_names(info, "delay", bad)
                            with pytest.raises(anymq.ConfigError, match="delay"):
                                await producer.send_batch(
                                    topic, [anymq.Message(b"ok"), anymq.Message(b"x", delay=bad)]
                                )
                        else:
                            with pytest.raises(anymq.UnsupportedFeature):
                                await producer.send(topic, b"bad", delay=bad)
                    await producer.send(topic, b"sentinel")
                got = await ctx.collect(consumer, 1)
                got += await ctx.quiet_receive(consumer)
            assert [m.value for m in got] == [b"sentinel"], (
                f"a refused message was sent: expected [b'sentinel'], got {[m.value for m in got]}"
            )
