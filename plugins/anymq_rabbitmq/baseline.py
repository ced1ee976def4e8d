"""The RabbitMQ baseline: the same workload through aio-pika directly, for ``anymq compare``.

The same topology anymq uses for a group: a durable topic exchange and a durable queue of
the same type (quorum by default; classic with ``?queue_type=classic``; a stream with
``?mode=stream``) bound with ``#``. Publishing uses publisher confirms (a batch is
published and its confirms awaited together), persistent messages; each consumer has its
own channel with the same prefetch and acks every message (``consume="batch"``: one
``ack(multiple=True)`` per prefetch-full). A one-at-a-time send awaits each confirm. The
connection URL (vhost, credentials, TLS files, heartbeat) and the queue type come from the
plugin's own settings for the URL. Imported only when a run measures RabbitMQ.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import aio_pika

from anymq.compare.cleanup import Tracker
from anymq.compare.perf.workload import (
    Drain,
    PingPong,
    Plan,
    RoundResult,
    Signal,
    Workers,
    bodies,
    timed,
)
from anymq.compare.profile import Baseline, driver_for
from anymq_rabbitmq import connection as amqp
from anymq_rabbitmq.driver import RabbitBroker


def _driver(url: str) -> RabbitBroker:
    driver = driver_for(url)
    assert isinstance(driver, RabbitBroker), f"{url} is not served by the rabbitmq backend"
    return driver


def queue_type(url: str) -> str:
    """The queue type anymq's RabbitMQ backend uses for a group on this URL."""
    settings = _driver(url).settings
    return "stream" if settings.mode == "stream" else settings.queue_type


def amqp_url(url: str) -> str:
    """The URL aio-pika connects to, exactly as the plugin builds it (password included)."""
    driver = _driver(url)
    return amqp.amqp_url(driver.url, driver.settings)


# Members wait in the iterator without a timeout (no task per message); when a phase is
# over, Workers(grace=0) cancels them and unacked prefetched messages return to the queue.


async def delete(url: str, exchange: str, queue: str) -> None:
    connection = await aio_pika.connect(amqp_url(url), timeout=10)
    try:
        channel = await connection.channel()
        with contextlib.suppress(Exception):
            await channel.queue_delete(queue)
        if channel.is_closed:
            channel = await connection.channel()
        await channel.exchange_delete(exchange)
    finally:
        await connection.close()


async def run_round(url: str, plan: Plan, tracker: Tracker) -> RoundResult:
    exchange_name, queue_name = tracker.name("raw"), tracker.name("raw-queue")
    created = tracker.add(
        f"rabbitmq exchange {exchange_name} and queue {queue_name}",
        lambda: delete(url, exchange_name, queue_name),
    )
    connection = await aio_pika.connect(amqp_url(url), timeout=10)
    try:
        setup = await connection.channel()
        exchange = await setup.declare_exchange(
            exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )
        kind = queue_type(url)
        queue = await setup.declare_queue(
            queue_name, durable=True, arguments={"x-queue-type": kind}
        )
        consume_args = {"x-stream-offset": "first"} if kind == "stream" else None
        await queue.bind(exchange, "#")
        publishers = []
        for _ in range(plan.producers):
            channel = await connection.channel(publisher_confirms=True)
            publishers.append(await channel.get_exchange(exchange_name))
        members = []
        for _ in range(plan.consumers):
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=plan.prefetch)
            members.append(await channel.get_queue(queue_name))
        batches = [bodies(share, plan.size) for share in plan.shares()]
        persistent = aio_pika.DeliveryMode.PERSISTENT
        step = 1 if plan.send == "single" else plan.batch

        async def produce(target: Any, messages: list[bytes]) -> None:
            for i in range(0, len(messages), step):
                await asyncio.gather(
                    *(
                        target.publish(aio_pika.Message(data, delivery_mode=persistent), "k")
                        for data in messages[i : i + step]
                    )
                )

        produce_seconds = consume_seconds = 0.0
        if plan.runs("produce"):
            produce_seconds = await timed(
                asyncio.gather(*(produce(p, m) for p, m in zip(publishers, batches, strict=True))),
                plan.phase_timeout,
                "producing",
            )

        # One consumer per member for both phases: cancelling an iterator between phases
        # can leave its consumer registered at the broker, which then takes latency messages
        # no loop reads (seen as "message N did not arrive").
        drain = Drain(plan.drain_count)
        pingpong = PingPong(plan)
        either = _Either(drain, pingpong)
        # consume="batch": one ack(multiple=True) per prefetch-full of messages (and for a
        # partial one when the drain is complete), the bulk ack AMQP has
        bulk = plan.consume == "batch"
        if plan.runs("consume") or plan.runs("latency"):
            async with Workers(grace=0) as workers:

                async def member(member_queue: Any) -> None:
                    unacked = 0
                    async with member_queue.iterator(arguments=consume_args) as messages:
                        async for message in messages:
                            if drain.done:
                                pingpong.received(message.body, time.perf_counter_ns())
                                await message.ack(multiple=unacked > 0)
                                unacked = 0
                                continue
                            drain.mark(message.body)
                            if not bulk:
                                await message.ack()
                                continue
                            unacked += 1
                            if unacked >= plan.prefetch or drain.done:
                                await message.ack(multiple=True)
                                unacked = 0

                for member_queue in members:
                    workers.start(member(member_queue), either)
                if plan.runs("consume"):
                    consume_seconds = await drain.timed(plan.phase_timeout)
                if plan.runs("latency"):
                    sender = publishers[0]
                    await pingpong.run(
                        lambda data: sender.publish(
                            aio_pika.Message(data, delivery_mode=persistent), "k"
                        )
                    )
    finally:
        with contextlib.suppress(Exception):
            await connection.close()
        await tracker.undo(created)
    return RoundResult(produce_seconds, consume_seconds, pingpong.latencies_ns, drain.duplicates)


class _Either(Signal):
    """A consumer loop's error fails whichever phase is waiting (drain, then latency)."""

    def __init__(self, *phases: Signal) -> None:
        super().__init__()
        self.phases = phases

    def fail(self, exc: BaseException) -> None:
        for phase in self.phases:
            phase.fail(exc)


BASELINE = Baseline(
    client="aio-pika",
    distribution="aio-pika",
    description=(
        "aio-pika: topic exchange + durable queue of anymq's type, publisher confirms "
        "awaited per batch, persistent messages, same prefetch, ack per message"
    ),
    run_round=run_round,
    differs=(
        "both sides wait for the publisher confirm of every message of a batch before the "
        "next batch, but anymq writes a batch's frames in one go and awaits the confirms "
        "together, where aio-pika publishes each message as its own task awaiting its own "
        "confirm; anymq also adds a message id and a timestamp header to each message and spreads "
        "the topic over the workload's partitions (an exchange and a single-active-consumer "
        "queue each), where the raw side uses one exchange and one queue both members share"
    ),
)
