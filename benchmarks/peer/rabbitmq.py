"""The RabbitMQ rows: anymq, FastStream (``faststream.rabbit``) and raw aio-pika.

Every side publishes persistent messages on a channel with publisher confirms, through a
durable topic exchange to one durable queue of the type anymq uses for the URL (quorum by
default), consumed with prefetch 100 and one ack per message. Every side gets a fresh
exchange and queue per round; a publish workload is checked by draining the queue
afterwards (untimed).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aio_pika
from benchmarks.peer.common import (
    Outcome,
    Side,
    Tally,
    Workload,
    bodies,
    chunks,
    drain,
    timed,
    unique,
)

import anymq
from anymq_rabbitmq import baseline

PREFETCH = 100
HEADERS = "anymq adds a message id and a timestamp header to each message"


def workloads() -> tuple[Workload, ...]:
    return (
        Workload(
            "rabbitmq-consume-each-1KiB", "rabbitmq", "consume-each", 1024,
            "RabbitMQ consume 1 KiB, prefetch 100, ack each",
            "the same on every side: basic.ack per message; FastStream acks after its "
            "handler (its default REJECT_ON_ERROR policy)",
            prefetch=PREFETCH, label="AMQP ack each 1KiB",
        ),
        Workload(
            "rabbitmq-publish-single-1KiB", "rabbitmq", "produce-awaited", 1024,
            "RabbitMQ publish 1 KiB confirmed, one at a time",
            f"each publish awaits its confirm on every side; {HEADERS}",
            scale=0.1, prefetch=PREFETCH, label="AMQP send 1KiB",
        ),
        Workload(
            "rabbitmq-publish-batch-1KiB", "rabbitmq", "produce-batch", 1024,
            "RabbitMQ publish 1 KiB confirmed, batches of 500",
            "anymq `send_batch` writes a batch's frames at once and awaits the confirms "
            "together; raw aio-pika and FastStream gather 500 publishes, each awaiting its "
            f"own confirm (FastStream has no batch publish for RabbitMQ); {HEADERS}",
            prefetch=PREFETCH, label="AMQP batch 1KiB",
        ),
    )  # fmt: skip


def queue_type(url: str) -> str:
    kind = baseline.queue_type(url)
    if kind not in ("quorum", "classic"):
        raise ValueError(f"the peer benchmark runs on quorum or classic queues, not {kind}")
    return kind


async def anymq_side(url: str, w: Workload, count: int, timeout: float) -> Outcome:
    topic, group = unique("anymq"), unique("anymq-group")
    tally = Tally(count)
    data = bodies(range(count), w.size)
    async with anymq.connect(url) as broker:
        await broker.create_topic(topic)
        consumer = broker.consumer(topic, group, prefetch=w.prefetch)
        producer = broker.producer()
        try:
            await consumer.start()
            await producer.start()
            seconds = 0.0
            if w.kind == "produce-awaited":

                async def each() -> None:
                    for item in data:
                        await producer.send(topic, item)

                seconds = await timed(each)
            else:

                async def batches() -> None:
                    for chunk in chunks(data, w.batch):
                        await producer.send_batch(topic, chunk)

                if w.kind == "produce-batch":
                    seconds = await timed(batches)
                else:
                    await batches()

            async def loop() -> None:
                async for msg in consumer:
                    tally.mark(msg.body)
                    await msg.ack()

            counts = await drain(loop(), tally, "anymq", timeout)
        finally:
            # closed before the topic goes, so no consumer sees it vanish
            for client in (producer, consumer):
                with contextlib.suppress(Exception):
                    await client.close()
            with contextlib.suppress(anymq.TopicNotFound):
                await broker.delete_topic(topic)
    return Outcome(count / seconds if seconds else tally.rate(), counts)


async def raw_side(url: str, w: Workload, count: int, timeout: float) -> Outcome:
    exchange_name, queue_name = unique("raw"), unique("raw-queue")
    tally = Tally(count)
    data = bodies(range(count), w.size)
    connection = await aio_pika.connect(baseline.amqp_url(url), timeout=10)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(
            exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(
            queue_name, durable=True, arguments={"x-queue-type": queue_type(url)}
        )
        await queue.bind(exchange, "#")
        persistent = aio_pika.DeliveryMode.PERSISTENT

        async def publish(chunk: list[bytes]) -> None:
            await asyncio.gather(
                *(
                    exchange.publish(aio_pika.Message(b, delivery_mode=persistent), "k")
                    for b in chunk
                )
            )

        seconds = 0.0
        if w.kind == "produce-awaited":

            async def each() -> None:
                for item in data:
                    await exchange.publish(aio_pika.Message(item, delivery_mode=persistent), "k")

            seconds = await timed(each)
        else:

            async def batches() -> None:
                for chunk in chunks(data, w.batch):
                    await publish(chunk)

            if w.kind == "produce-batch":
                seconds = await timed(batches)
            else:
                await batches()
        consume = await connection.channel()
        await consume.set_qos(prefetch_count=w.prefetch)
        members: Any = await consume.get_queue(queue_name)

        async def loop() -> None:
            async with members.iterator() as messages:
                async for message in messages:
                    tally.mark(message.body)
                    await message.ack()

        counts = await drain(loop(), tally, "raw", timeout)
    finally:
        with contextlib.suppress(Exception):
            await connection.close()
        await baseline.delete(url, exchange_name, queue_name)
    return Outcome(count / seconds if seconds else tally.rate(), counts)


async def faststream_side(url: str, w: Workload, count: int, timeout: float) -> Outcome:
    from faststream.rabbit import (
        Channel,
        ExchangeType,
        QueueType,
        RabbitBroker,
        RabbitExchange,
        RabbitQueue,
    )

    exchange_name, queue_name = unique("faststream"), unique("faststream-queue")
    tally = Tally(count)
    data = bodies(range(count), w.size)
    broker = RabbitBroker(
        baseline.amqp_url(url), default_channel=Channel(prefetch_count=w.prefetch), logger=None
    )
    exchange = RabbitExchange(exchange_name, type=ExchangeType.TOPIC, durable=True)
    kind = QueueType.QUORUM if queue_type(url) == "quorum" else QueueType.CLASSIC
    queue = RabbitQueue(queue_name, durable=True, queue_type=kind, routing_key="#")  # type: ignore[call-overload]
    # The subscriber declares and binds the queue when the broker starts, before anything is
    # published; it holds its first delivery until the timed part begins.
    go = asyncio.Event()

    @broker.subscriber(queue, exchange)
    async def handle(body: bytes) -> None:
        if not go.is_set():
            await go.wait()
        tally.mark(body)

    try:
        await broker.start()
        seconds = 0.0
        if w.kind == "produce-awaited":

            async def each() -> None:
                for item in data:
                    await broker.publish(item, "k", exchange=exchange, persist=True)

            seconds = await timed(each)
        else:

            async def batches() -> None:
                for chunk in chunks(data, w.batch):
                    await asyncio.gather(
                        *(broker.publish(b, "k", exchange=exchange, persist=True) for b in chunk)
                    )

            if w.kind == "produce-batch":
                seconds = await timed(batches)
            else:
                await batches()
        go.set()
        counts = await drain(None, tally, "faststream", timeout)
    finally:
        with contextlib.suppress(Exception):
            await broker.stop()
        await baseline.delete(url, exchange_name, queue_name)
    return Outcome(count / seconds if seconds else tally.rate(), counts)


SIDES: dict[str, Side] = {"anymq": anymq_side, "faststream": faststream_side, "raw": raw_side}
