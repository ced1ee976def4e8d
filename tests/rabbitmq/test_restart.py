"""A RabbitMQ server restart while a producer sends with confirms and a group consumes.

Every message whose send returned (confirmed by RabbitMQ) must be consumed after the
restart: durable exchange, quorum queues (and streams) and persistent messages survive,
the robust connection comes back, the consumer resumes. Sends that fail during the outage
are retried by the test, so duplicates are possible and reported, never lost messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid

import pytest

import anymq
from anymq.testing.ledger import Ledger
from tests.rabbitmq.helpers import ROOT, restart_server, with_query

pytestmark = [pytest.mark.rabbitmq, pytest.mark.anymq, pytest.mark.slow]

COUNT = 1500


@pytest.mark.parametrize("mode", ["classic", "stream"])
async def test_restart_loses_no_confirmed_message(
    rabbitmq_url: str, mode: str, record_property: object
) -> None:
    url = with_query(rabbitmq_url, mode=mode, publish_timeout="90")
    topic = f"anymq-rmq-restart-{uuid.uuid4().hex[:8]}"
    group = "survivors"
    ledger = Ledger()
    retries = 0
    restart_at = asyncio.Event()
    restart_seconds: list[float] = []
    async with anymq.connect(url) as broker:
        await broker.create_topic(topic)
        try:
            async with broker.consumer(topic, group, prefetch=50) as consumer:
                stop = asyncio.Event()
                produced = asyncio.Event()
                complete = asyncio.Event()

                async def produce() -> None:
                    nonlocal retries
                    async with broker.producer() as producer:
                        for i in range(COUNT):
                            value = b"m%05d" % i
                            while True:
                                try:
                                    await producer.send(topic, value)
                                    break
                                except (anymq.BrokerUnavailable, anymq.PublishError):
                                    retries += 1  # not confirmed: send it again
                                    await asyncio.sleep(0.2)
                            ledger.expect(value)
                            if i == COUNT // 3:
                                restart_at.set()

                async def restart() -> None:
                    await restart_at.wait()
                    restart_seconds.append(await restart_server(rabbitmq_url))

                async def consume() -> None:
                    while not stop.is_set():
                        for msg in await consumer.receive(max_messages=200, timeout=0.2):
                            ledger.record(msg.value)
                            await msg.ack()
                        if produced.is_set() and not ledger.lost:
                            complete.set()

                reader = asyncio.create_task(consume())
                started = time.monotonic()
                await asyncio.gather(produce(), restart())
                produced.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(complete.wait(), 60)
                stop.set()
                await reader
                elapsed = time.monotonic() - started
        finally:
            await broker.delete_topic(topic)
    summary = ledger.summary()
    print(
        f"{mode}: {summary}, send retries={retries}, restart took "
        f"{restart_seconds[0] if restart_seconds else float('nan'):.1f}s, run {elapsed:.1f}s"
    )
    assert restart_seconds, "the server was not restarted"
    ledger.assert_complete(exactly_once=False)


async def test_stream_sends_across_a_restart_raise_only_anymq_errors(rabbitmq_url: str) -> None:
    """Sends through and right after a restart (existing and new producers, single and
    batch) fail only with anymq errors, every confirmed message is in the stream, and once
    the stream is back receipts carry offsets again."""
    url = with_query(rabbitmq_url, mode="stream", publish_timeout="30")
    topic = f"anymq-rmq-restart-send-{uuid.uuid4().hex[:8]}"
    raw: list[str] = []
    anymq_errors: list[str] = []
    confirmed: set[bytes] = set()
    late_offsets: list[int | None] = []
    async with anymq.connect(url) as broker:
        await broker.create_topic(topic)
        try:
            stop = asyncio.Event()
            restarted = asyncio.Event()
            counter = iter(range(10**9))
            loop = asyncio.get_running_loop()
            settled_at: list[float] = []

            def failed(exc: Exception) -> None:
                text = f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
                (anymq_errors if isinstance(exc, anymq.AnyMQError) else raw).append(text)

            async def keep_sending(batch: bool) -> None:
                async with broker.producer() as producer:
                    while not stop.is_set():
                        values = [b"v%09d" % next(counter) for _ in range(5 if batch else 1)]
                        try:
                            if batch:
                                receipts = await producer.send_batch(topic, values)
                            else:
                                receipts = [await producer.send(topic, values[0])]
                        except Exception as exc:
                            failed(exc)
                            await asyncio.sleep(0.05)
                            continue
                        confirmed.update(values)
                        if settled_at and loop.time() > settled_at[0]:
                            late_offsets.extend(r.offset for r in receipts)

            async def new_producers() -> None:
                while not stop.is_set():
                    value = b"n%09d" % next(counter)
                    try:
                        async with broker.producer() as producer:
                            await producer.send(topic, value)
                        confirmed.add(value)
                    except Exception as exc:
                        failed(exc)
                    await asyncio.sleep(0.05)

            workers = [
                asyncio.create_task(keep_sending(False)),
                asyncio.create_task(keep_sending(True)),
                asyncio.create_task(new_producers()),
            ]
            await asyncio.sleep(1.0)
            await restart_server(rabbitmq_url)
            restarted.set()
            settled_at.append(loop.time() + 3.0)  # the robust connection is back by then
            await asyncio.sleep(8.0)
            stop.set()
            await asyncio.gather(*workers)

            got: set[bytes] = set()
            async with broker.consumer(topic, "check", start="earliest") as consumer:
                deadline = loop.time() + 60
                while not confirmed <= got and loop.time() < deadline:
                    for msg in await consumer.receive(max_messages=500, timeout=1.0):
                        got.add(msg.body)
                        await msg.ack()
        finally:
            await broker.delete_topic(topic)
    print(
        f"confirmed={len(confirmed)} anymq errors={len(anymq_errors)} raw={len(raw)} "
        f"late receipts={len(late_offsets)} without offset={late_offsets.count(None)}"
    )
    assert not raw, f"raw (non-anymq) errors escaped: {sorted(set(raw))[:5]}"
    assert confirmed <= got, f"{len(confirmed - got)} confirmed messages are not in the stream"
    assert late_offsets, "nothing was sent after the restart"
    assert None not in late_offsets, (
        f"{late_offsets.count(None)} of {len(late_offsets)} receipts after the restart have no "
        "offset"
    )


async def _server(url: str, action: str) -> None:
    env = dict(os.environ)
    env.setdefault("ANYMQ_RABBITMQ_PORT", str(anymq.URL.parse(url).port or 5672))
    process = await asyncio.create_subprocess_exec(
        "bash", str(ROOT / "compose" / "rabbitmq.sh"), action, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, f"compose/rabbitmq.sh {action} failed:\n{output.decode()}"


@pytest.mark.parametrize("mode", ["classic", "stream"])
async def test_sends_while_the_server_is_down_wait_for_it(rabbitmq_url: str, mode: str) -> None:
    """A new producer and a send started while the server is down wait for the robust
    connection (within publish_timeout) instead of failing with a raw aio-pika error."""
    url = with_query(rabbitmq_url, mode=mode, publish_timeout="60")
    topic = f"anymq-rmq-down-{uuid.uuid4().hex[:8]}"
    async with anymq.connect(url) as broker:
        await broker.create_topic(topic)
        try:
            async with broker.producer() as producer:
                await producer.send(topic, b"before")

                async def new_producer() -> anymq.Receipt:
                    async with broker.producer() as fresh:
                        return await fresh.send(topic, b"fresh")

                await _server(rabbitmq_url, "stop")
                try:
                    pending = [
                        asyncio.ensure_future(producer.send(topic, b"during")),
                        asyncio.ensure_future(new_producer()),
                    ]
                    await asyncio.sleep(1.0)
                finally:
                    await _server(rabbitmq_url, "start")
                results = await asyncio.gather(*pending, return_exceptions=True)
                raw = [r for r in results if isinstance(r, BaseException)]
                assert not raw, f"sends while the server was down failed: {raw!r}"
                if mode == "stream":
                    late = await producer.send(topic, b"after")
                    assert late.offset is not None, "no offset after the server came back"
        finally:
            await broker.delete_topic(topic)
