"""Cancelling a consumer blocked in a long poll (``asyncio.timeout`` around ``async for``,
Ctrl-C) must not hide messages for the visibility timeout.

Closing the HTTP request does not stop the ReceiveMessage at the server: it goes on for the
rest of its ``WaitTimeSeconds`` and hands out whatever arrives (moto, and SQS may too). Those
messages, and a response already on its way when the cancel lands, must go back to the
queue at once, so another member of the group gets them in seconds, not after 30 s (and on
a FIFO queue the hidden message would also hold back the rest of its message group).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

import anymq
from tests.sqs.helpers import own_moto, unique, with_options

pytestmark = [pytest.mark.sqs, pytest.mark.anymq]

VISIBILITY = 30  # the default: a hidden message would be gone for the whole test
SOON = 5.0
"""Seconds within which the other member must get a released message."""


async def _collect(consumer: anymq.Consumer, count: int, within: float) -> list[anymq.Received]:
    got: list[anymq.Received] = []
    deadline = time.monotonic() + within
    while len(got) < count and time.monotonic() < deadline:
        for msg in await consumer.receive(count - len(got), timeout=1):
            got.append(msg)
            await msg.ack()
    return got


async def _cancel(task: asyncio.Future[Any]) -> float:
    """Cancels ``task`` and returns how long the cancellation took to propagate."""
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return time.monotonic() - started


@pytest.mark.parametrize(("fifo", "how"), [(False, "receive"), (True, "async-for")])
async def test_messages_of_a_cancelled_poll_go_back_at_once(
    sqs_url: str, fifo: bool, how: str
) -> None:
    url = with_options(sqs_url, fifo="true") if fifo else sqs_url
    async with anymq.connect(url) as broker:
        topic = unique("cancel")
        await broker.create_topic(topic)
        try:
            member = broker.consumer(topic, "g", wait_time=5, visibility_timeout=VISIBILITY)
            async with member, broker.producer() as producer:
                blocked: asyncio.Future[Any] = asyncio.ensure_future(
                    member.receive(1, timeout=None) if how == "receive" else member.__anext__()
                )
                await asyncio.sleep(0.5)  # the long poll is waiting at the server
                assert not blocked.done()
                assert await _cancel(blocked) < 0.5  # the cancel is not held up by the poll
                # arrives while the cancelled poll is still running at the server
                await producer.send(topic, b"first", key="k")
                await producer.send(topic, b"second", key="k")  # FIFO: same message group
                started = time.monotonic()
                async with broker.consumer(topic, "g", wait_time=1) as other:
                    got = await _collect(other, 2, SOON)
                took = time.monotonic() - started
            values = [m.value for m in got]
            assert sorted(values) == [b"first", b"second"], f"after {took:.1f}s: {values}"
            if fifo:
                assert values == [b"first", b"second"]
        finally:
            await broker.delete_topic(topic)


async def test_cancel_racing_the_response_loses_nothing(sqs_url: str) -> None:
    """The message is already there; the cancel lands at varying points of the request
    (before it is sent, while the response is on its way, after it arrived)."""
    async with anymq.connect(sqs_url) as broker:
        topic = unique("race")
        await broker.create_topic(topic)
        try:
            async with broker.consumer(topic, "g"):
                pass  # the group's queue exists from here on
            cancelled = 0
            async with (
                broker.producer() as producer,
                broker.consumer(topic, "g", wait_time=1) as other,
            ):
                for i, delay in enumerate((0, 0, 0.001, 0.002, 0.004, 0.008, 0.015, 0.03, 0.06)):
                    body = b"m%d" % i
                    member = broker.consumer(topic, "g", visibility_timeout=VISIBILITY)
                    async with member:
                        await producer.send(topic, body)
                        blocked = asyncio.ensure_future(member.receive(1, timeout=None))
                        await asyncio.sleep(delay)
                        if blocked.done():  # the app got it: not the race
                            [msg] = blocked.result()
                            await msg.ack()
                            continue
                        cancelled += 1
                        assert await _cancel(blocked) < 0.5
                        got = await _collect(other, 1, SOON)
                    assert [m.value for m in got] == [body], f"delay {delay}"
            assert cancelled >= 2
        finally:
            await broker.delete_topic(topic)


async def test_close_after_a_cancelled_poll_gives_its_messages_back(sqs_url: str) -> None:
    """Ctrl-C: the receive is cancelled and the consumer closed while its poll is still
    running at the server; a message arriving then must not be hidden either."""
    async with anymq.connect(sqs_url) as broker:
        topic = unique("close")
        await broker.create_topic(topic)
        try:
            member = broker.consumer(topic, "g", wait_time=3, visibility_timeout=VISIBILITY)
            await member.start()
            blocked = asyncio.ensure_future(member.receive(1, timeout=None))
            await asyncio.sleep(0.5)
            assert await _cancel(blocked) < 0.5
            async with broker.producer() as producer:
                closing = asyncio.ensure_future(member.close())
                await asyncio.sleep(0.3)
                await producer.send(topic, b"during close")
            started = time.monotonic()
            await closing
            assert time.monotonic() - started < 3 + 2  # at most the rest of the poll + margin
            async with broker.consumer(topic, "g", wait_time=1) as other:
                got = await _collect(other, 1, SOON)
            assert [m.value for m in got] == [b"during close"]
        finally:
            await broker.delete_topic(topic)


@pytest.fixture
def dead_moto() -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """A moto_server of this test's own, so it can be frozen (SIGSTOP) without harming others."""
    with own_moto() as server:
        yield server


async def test_giving_back_does_not_hang_on_a_dead_endpoint(
    dead_moto: tuple[int, subprocess.Popen[bytes]],
) -> None:
    """The endpoint stops answering (it still accepts TCP) while a member holds a message
    and a cancelled poll is running: close gives up within its bounds instead of waiting
    for botocore's read timeouts (30 s per attempt by default)."""
    port, proc = dead_moto
    broker = anymq.connect(f"sqs://127.0.0.1:{port}?connect_timeout=1&max_attempts=1")
    await broker.start()
    try:
        topic = unique("dead")
        await broker.create_topic(topic)
        member = broker.consumer(topic, "g", wait_time=2)
        await member.start()
        async with broker.producer() as producer:
            await producer.send(topic, b"held")
        [msg] = await member.receive(1, timeout=5)
        assert msg.value == b"held"
        blocked = asyncio.ensure_future(member.receive(1, timeout=None))
        await asyncio.sleep(0.3)
        assert await _cancel(blocked) < 0.5
        proc.send_signal(signal.SIGSTOP)
        started = time.monotonic()
        await member.close()
        took = time.monotonic() - started
        # rest of the poll (2 s) + 2 s margin, then one bounded give-back (5 s), + slack
        assert took < 2 + 2 + 5 + 2, f"close took {took:.1f}s on a dead endpoint"
    finally:
        await broker.close()
