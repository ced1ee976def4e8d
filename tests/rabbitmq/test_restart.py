"""A RabbitMQ server restart while a producer sends with confirms and a group consumes.

Every message whose send returned (confirmed by RabbitMQ) must be consumed after the
restart: durable exchange, quorum queues (and streams) and persistent messages survive,
the robust connection comes back, the consumer resumes. Sends that fail during the outage
are retried by the test, so duplicates are possible and reported, never lost messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import traceback
import uuid
from collections.abc import Awaitable, Iterator

import pytest

import anymq
from anymq.testing.ledger import Ledger
from tests.rabbitmq.helpers import OWN_PORT, own_server, with_query

pytestmark = [pytest.mark.rabbitmq, pytest.mark.anymq, pytest.mark.slow]

COUNT = 1500


@pytest.mark.parametrize("mode", ["classic", "stream"])
async def test_restart_loses_no_confirmed_message(
    own_node: str, mode: str, record_property: object
) -> None:
    url = with_query(own_node, mode=mode, publish_timeout="90")
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
                    restart_seconds.append(await own_server("restart"))

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


async def test_stream_sends_across_a_restart_raise_only_anymq_errors(own_node: str) -> None:
    """Sends through and right after a restart (existing and new producers, single and
    batch) fail only with anymq errors, every confirmed message is in the stream, and once
    the stream is back receipts carry offsets again."""
    url = with_query(own_node, mode="stream", publish_timeout="30")
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
            await own_server("restart")
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


@pytest.mark.parametrize("mode", ["classic", "stream"])
async def test_sends_while_the_server_is_down_wait_for_it(own_node: str, mode: str) -> None:
    """A new producer and a send started while the server is down wait for the robust
    connection (within publish_timeout) instead of failing with a raw aio-pika error."""
    url = with_query(own_node, mode=mode, publish_timeout="60")
    topic = f"anymq-rmq-down-{uuid.uuid4().hex[:8]}"
    async with anymq.connect(url) as broker:
        await broker.create_topic(topic)
        try:
            async with broker.producer() as producer:
                await producer.send(topic, b"before")

                async def new_producer() -> anymq.Receipt:
                    async with broker.producer() as fresh:
                        return await fresh.send(topic, b"fresh")

                await own_server("stop")
                try:
                    pending = [
                        asyncio.ensure_future(producer.send(topic, b"during")),
                        asyncio.ensure_future(new_producer()),
                    ]
                    await asyncio.sleep(1.0)
                finally:
                    await own_server("start")
                results = await asyncio.gather(*pending, return_exceptions=True)
                raw = [r for r in results if isinstance(r, BaseException)]
                assert not raw, f"sends while the server was down failed: {raw!r}"
                if mode == "stream":
                    late = await producer.send(topic, b"after")
                    assert late.offset is not None, "no offset after the server came back"
        finally:
            await broker.delete_topic(topic)


#: Streams of other topics make the node take longer to start its queues after a restart,
#: which widens the moment in which RabbitMQ refuses a stream with 404 "down or inaccessible".
BUSY_STREAMS = 30


async def _amqp_answers(port: int) -> bool:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 0.5)
    except (OSError, TimeoutError):
        return False
    try:
        writer.write(b"AMQP\x00\x00\x09\x01")
        return await asyncio.wait_for(reader.read(1), 1.0) == b"\x01"
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()


class Outcomes:
    """Every operation's result by name: raw (non-anymq) errors, anymq errors, successes."""

    def __init__(self) -> None:
        self.raw: list[str] = []
        self.anymq: list[str] = []
        self.ok: list[str] = []

    async def run(self, name: str, operation: Awaitable[object], limit: float = 90.0) -> None:
        try:
            await asyncio.wait_for(operation, limit)
        except TimeoutError:
            self.raw.append(f"{name}: hung for {limit:g}s")
        except Exception as exc:
            text = f"{name}: {type(exc).__module__}.{type(exc).__name__}: {exc}"
            (self.anymq if isinstance(exc, anymq.AnyMQError) else self.raw).append(text)
        else:
            self.ok.append(name)


async def test_stream_operations_right_after_a_restart_wait_for_the_stream(
    own_node: str,
) -> None:
    """For a moment after a node restart RabbitMQ refuses a stream with 404 "home node ...
    is down or inaccessible" and returns messages routed to it. Sends, batches, new
    consumers (with and without a group, latest and earliest) and describe_group issued
    right then, from a connection made right then and from one that lived through the
    restart, wait for the stream and succeed: no raw ChannelNotFoundEntity, no PublishError
    for a stream that is only starting, and receipts carry offsets."""
    url = with_query(own_node, mode="stream", publish_timeout="30", reconnect_interval="0.1")
    topic = f"anymq-rmq-boot-{uuid.uuid4().hex[:8]}"
    busy = [f"{topic}-busy{i}" for i in range(BUSY_STREAMS)]
    outcomes = Outcomes()
    offsets: list[int | None] = []
    async with anymq.connect(url) as old:
        for name in (topic, *busy):
            await old.create_topic(name)
        try:
            async with old.consumer(topic, "g0", start="earliest"):
                pass
            async with old.producer() as survivor:
                await survivor.send(topic, b"warm")  # its offset tracker is attached
                for round_ in range(2):
                    await own_server("stop")
                    starting = asyncio.create_task(own_server("start"))
                    for _ in range(6000):  # within 60 s
                        if await _amqp_answers(OWN_PORT):
                            break
                        await asyncio.sleep(0.01)
                    while True:  # a client connecting the moment the port answers
                        fresh = anymq.connect(url)
                        try:
                            await fresh.start()
                            break
                        except anymq.BrokerUnavailable:
                            await asyncio.sleep(0.02)

                    async def send(broker: anymq.Broker, batch: bool) -> None:
                        async with broker.producer() as producer:
                            if batch:
                                receipts = await producer.send_batch(topic, [b"b1", b"b2"])
                            else:
                                receipts = [await producer.send(topic, b"one")]
                            offsets.extend(r.offset for r in receipts)

                    async def consume(broker: anymq.Broker, group: str | None, start: str) -> None:
                        async with broker.consumer(topic, group, start=start) as consumer:
                            await consumer.receive(max_messages=1, timeout=0.1)

                    async def survivor_send() -> None:
                        offsets.append((await survivor.send(topic, b"old")).offset)

                    try:
                        await asyncio.gather(
                            outcomes.run("new send", send(fresh, False)),
                            outcomes.run("new send_batch", send(fresh, True)),
                            outcomes.run("existing send", survivor_send()),
                            outcomes.run("broadcast latest", consume(fresh, None, "latest")),
                            outcomes.run("broadcast earliest", consume(fresh, None, "earliest")),
                            outcomes.run("new group", consume(fresh, f"n{round_}", "latest")),
                            outcomes.run("old group", consume(fresh, "g0", "earliest")),
                            outcomes.run("describe_group", fresh.describe_group(topic, "g0")),
                            outcomes.run(
                                "old conn new group", consume(old, f"o{round_}", "latest")
                            ),
                            outcomes.run("old conn broadcast", consume(old, None, "latest")),
                        )
                    finally:
                        await fresh.close()
                        await starting
        finally:
            for name in (topic, *busy):
                await old.delete_topic(name)
    print(f"ok={len(outcomes.ok)} anymq={outcomes.anymq[:3]} raw={outcomes.raw[:3]}")
    assert not outcomes.raw, f"raw (non-anymq) errors escaped: {outcomes.raw}"
    assert not outcomes.anymq, f"operations failed while the stream was starting: {outcomes.anymq}"
    assert None not in offsets, f"receipts without offsets after a restart: {offsets}"


class Steps:
    """The test body's own steps (those not run through Outcomes), timed by name.

    An exception escaping a step fails the test with the step's name and the full
    traceback in the assertion message, so a CI summary names the operation instead of a
    bare ``TimeoutError``; a step cancelled by the per-test limit is named on stdout. The
    durations are printed at the end (where the time of a slow run went).
    """

    def __init__(self) -> None:
        self.times: list[str] = []

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        except AssertionError:
            raise
        except asyncio.CancelledError:
            print(f"cancelled in step {name!r} after {time.monotonic() - started:.1f}s")
            raise
        except Exception as exc:
            raise AssertionError(
                f"step {name!r} raised {type(exc).__module__}.{type(exc).__name__}: {exc}\n"
                + "".join(traceback.format_exception(exc))
            ) from exc
        finally:
            self.times.append(f"{name}={time.monotonic() - started:.1f}s")


#: Seconds one consumer start (through a restart) may take before it counts as hung: the
#: robust connection is back within publish_timeout (30 s) of the node answering.
START_LIMIT = 60.0


@pytest.mark.anymq(timeout=240)  # three node restarts on a loaded CI machine: not 120 s
async def test_stream_consumers_across_a_restart_raise_no_raw_error(own_node: str) -> None:
    """Consumers started while the node stops and starts fail only with anymq errors (a
    registry edit or offset read whose connection drops is BrokerUnavailable, not a raw
    aiormq ConnectionClosed/ChannelInvalidStateError), and a consumer without a group that
    lives through the restart goes on reading from where it was instead of raising
    TopicNotFound for a topic that exists."""
    url = with_query(own_node, mode="stream", publish_timeout="30", reconnect_interval="0.1")
    topic = f"anymq-rmq-bounce-{uuid.uuid4().hex[:8]}"
    outcomes = Outcomes()
    step = Steps()
    lost_topic: list[str] = []
    got: list[bytes] = []
    after = asyncio.Event()
    broker = anymq.connect(url)
    with step("connect"):
        await broker.start()
    try:
        with step("create_topic"):
            await broker.create_topic(topic)
        try:
            g0 = broker.consumer(topic, "g0", start="earliest")
            with step("start g0"):
                await g0.start()
            with step("close g0"):
                await g0.close()
            stop = asyncio.Event()

            async def starter(worker: int) -> None:
                for n in itertools.count():
                    for group in ("g0", f"s{worker}-{n}", None):
                        if stop.is_set():
                            return

                        async def start_one(group: str | None = group) -> None:
                            async with broker.consumer(topic, group) as consumer:
                                await consumer.receive(max_messages=1, timeout=0.05)

                        await outcomes.run(f"start {group}", start_one(), START_LIMIT)

            async def reader(consumer: anymq.Consumer) -> None:
                while not stop.is_set():
                    try:
                        for msg in await consumer.receive(max_messages=10, timeout=0.2):
                            got.append(msg.body)
                            if msg.body == b"after":
                                after.set()
                            await msg.ack()
                    except anymq.TopicNotFound as exc:
                        lost_topic.append(str(exc))
                        await asyncio.sleep(0.1)
                    except anymq.AnyMQError:
                        await asyncio.sleep(0.1)
                    except Exception as exc:
                        outcomes.raw.append(f"broadcast receive: {type(exc).__name__}: {exc}")
                        raise

            broadcast = broker.consumer(topic, None, start="earliest")
            with step("start broadcast"):
                await broadcast.start()
            workers = [asyncio.create_task(starter(i)) for i in range(4)]
            workers.append(asyncio.create_task(reader(broadcast)))
            try:
                for round_ in range(3):
                    await asyncio.sleep(1.0)
                    with step(f"stop node {round_}"):
                        await own_server("stop")
                    await asyncio.sleep(0.5)
                    with step(f"start node {round_}"):
                        await own_server("start")
                with step("send after"):
                    async with broker.producer() as producer:
                        await producer.send(topic, b"after")
                with step("wait for after"), contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(after.wait(), 30)
                stop.set()
                with step("stop workers"):
                    done, running = await asyncio.wait(workers, timeout=START_LIMIT + 10)
                if running:
                    outcomes.raw.append(f"{len(running)} workers did not stop")
                for task in done:
                    if not task.cancelled() and task.exception() is not None:
                        outcomes.raw.append(f"a worker failed: {task.exception()!r}")
            finally:
                stop.set()
                for task in workers:
                    task.cancel()  # a failed step must not leave them running
                await asyncio.gather(*workers, return_exceptions=True)
                with step("close broadcast"):
                    await broadcast.close()
        finally:
            with step("delete_topic"):
                await broker.delete_topic(topic)
    finally:
        with step("close broker"):
            await broker.close()
    print(f"steps: {' '.join(step.times)}")
    print(f"ok={len(outcomes.ok)} anymq={len(outcomes.anymq)} raw={outcomes.raw[:3]}")
    assert not outcomes.raw, f"raw (non-anymq) errors escaped: {outcomes.raw}"
    assert not lost_topic, f"TopicNotFound for an existing topic: {lost_topic[:2]}"
    assert b"after" in got, "the consumer without a group did not read on after the restart"
