"""The Kafka rows: anymq, FastStream (``faststream.kafka``) and raw aiokafka.

All three produce with acks=all and an idempotent producer, and connect with the settings
anymq's Kafka backend derives from the URL (FastStream gets its bootstrap servers). Every
side fills, produces into and drains its own fresh topic of ``partitions`` partitions with a
fresh group; a produce workload is checked by draining it afterwards (untimed).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiokafka  # type: ignore[import-untyped]
from benchmarks.peer.common import (
    Outcome,
    Side,
    Tally,
    Workload,
    bodies,
    chunks,
    drain,
    key_of,
    timed,
    unique,
)

import anymq
from anymq_kafka import baseline

PARTITIONS = 3
BATCH_BYTES = 1024 * 1024
RAW_COMMIT = (
    "raw aiokafka: getmany(max_records=500) loop, auto-commit every 200 ms (may commit "
    "what was not processed yet)"
)
FASTSTREAM_COMMIT = (
    "FastStream: its default AckPolicy.ACK_FIRST, i.e. aiokafka auto-commit every 5 s"
)
ANYMQ_COMMIT = "anymq: commits only offsets below the lowest unacked message (at-least-once)"


def workloads() -> tuple[Workload, ...]:
    each = f"{ANYMQ_COMMIT}; {RAW_COMMIT}; {FASTSTREAM_COMMIT}, one handler call per message"
    out: list[Workload] = []
    for label, size in (("1KiB", 1024), ("100B", 100)):
        out.append(
            Workload(
                f"kafka-consume-each-{label}", "kafka", "consume-each", size,
                f"Kafka consume {label}, one at a time (`async for` + `ack`)",
                each, partitions=PARTITIONS, label=f"Kafka ack each {label}",
            )
        )  # fmt: skip
        out.append(
            Workload(
                f"kafka-consume-batch-{label}", "kafka", "consume-batch", size,
                f"Kafka consume {label}, batches (`receive(500)` + `ack_many`)",
                f"{ANYMQ_COMMIT}; raw: getmany(max_records=500); FastStream: "
                "`batch=True, max_records=500` (one handler call per batch, ACK_FIRST)",
                partitions=PARTITIONS, label=f"Kafka ack_many {label}",
            )
        )  # fmt: skip
    out.append(
        Workload(
            "kafka-produce-awaited-1KiB", "kafka", "produce-awaited", 1024,
            "Kafka produce 1 KiB, each send awaited",
            "anymq `send`; raw `send_and_wait`; FastStream `broker.publish` (all unkeyed)",
            scale=0.1, partitions=PARTITIONS, label="Kafka send 1KiB",
        )
    )  # fmt: skip
    for label, size in (("1KiB", 1024), ("100B", 100)):
        out.append(
            Workload(
                f"kafka-produce-batch-{label}", "kafka", "produce-batch", size,
                f"Kafka produce {label}, batches of 500 keyed messages",
                "anymq `send_batch` (keyed, spread over 3 partitions); raw `send` of each "
                "keyed message + gather; FastStream `publish_batch` has no keys: one "
                "unkeyed batch to one partition (less work), with max_batch_size raised to 1 MiB "
                "so 500 messages fit",
                partitions=PARTITIONS, label=f"Kafka batch {label}",
            )
        )  # fmt: skip
    return tuple(out)


async def anymq_side(url: str, w: Workload, count: int, timeout: float) -> Outcome:
    topic, group = unique("anymq"), unique("anymq-group")
    tally = Tally(count)
    data = bodies(range(count), w.size)
    async with anymq.connect(url) as broker:
        await broker.create_topic(topic, partitions=w.partitions)
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
            elif w.kind == "produce-batch":
                keyed = [
                    [anymq.Message(item, key=key_of(i + n)) for n, item in enumerate(chunk)]
                    for i, chunk in zip(
                        range(0, count, w.batch), chunks(data, w.batch), strict=True
                    )
                ]

                async def batches() -> None:
                    for chunk in keyed:
                        await producer.send_batch(topic, chunk)

                seconds = await timed(batches)
            else:
                for chunk in chunks(data, w.batch):
                    await producer.send_batch(topic, chunk)

            async def one_at_a_time() -> None:
                async for msg in consumer:
                    tally.mark(msg.body)
                    await msg.ack()

            async def batched() -> None:
                while True:
                    got = await consumer.receive(w.prefetch, 0.1)
                    for msg in got:
                        tally.mark(msg.body)
                    await consumer.ack_many(got)

            loop = one_at_a_time() if w.kind == "consume-each" else batched()
            counts = await drain(loop, tally, "anymq", timeout)
        finally:
            # closed before the topic goes, so no rebalance sees it vanish
            for client in (producer, consumer):
                with contextlib.suppress(Exception):
                    await client.close()
            with contextlib.suppress(anymq.TopicNotFound):
                await broker.delete_topic(topic)
    return Outcome(count / seconds if seconds else tally.rate(), counts)


async def raw_side(url: str, w: Workload, count: int, timeout: float) -> Outcome:
    options = baseline.connection(url)
    topic, group = unique("raw"), unique("raw-group")
    tally = Tally(count)
    data = bodies(range(count), w.size)
    clients: list[Any] = []
    await baseline.create_topic(url, topic, w.partitions)
    try:
        consumer = aiokafka.AIOKafkaConsumer(
            topic,
            group_id=group,
            enable_auto_commit=True,
            auto_commit_interval_ms=200,
            auto_offset_reset="earliest",
            max_poll_records=w.prefetch,
            fetch_max_wait_ms=100,
            **options,
        )
        clients.append(consumer)
        await consumer.start()
        async with asyncio.timeout(timeout):
            while len(consumer.assignment()) < w.partitions:  # noqa: ASYNC110 (aiokafka has no assignment event)
                await asyncio.sleep(0.05)
        producer = aiokafka.AIOKafkaProducer(acks="all", enable_idempotence=True, **options)
        clients.append(producer)
        await producer.start()
        seconds = 0.0
        if w.kind == "produce-awaited":

            async def each() -> None:
                for item in data:
                    await producer.send_and_wait(topic, item)

            seconds = await timed(each)
        elif w.kind == "produce-batch":

            async def keyed() -> None:
                for start, chunk in zip(
                    range(0, count, w.batch), chunks(data, w.batch), strict=True
                ):
                    futures = [
                        await producer.send(topic, item, key=key_of(start + n))
                        for n, item in enumerate(chunk)
                    ]
                    await asyncio.gather(*futures)

            seconds = await timed(keyed)
        else:
            for chunk in chunks(data, w.batch):
                await baseline.send_batch(producer, topic, chunk, w.partitions)

        async def loop() -> None:
            while True:
                fetched = await consumer.getmany(timeout_ms=100, max_records=w.prefetch)
                for records in fetched.values():
                    for record in records:
                        tally.mark(record.value)

        counts = await drain(loop(), tally, "raw", timeout)
    finally:
        for client in reversed(clients):
            with contextlib.suppress(Exception):
                await client.stop()
        await baseline.delete_topic(url, topic)
    return Outcome(count / seconds if seconds else tally.rate(), counts)


async def faststream_side(url: str, w: Workload, count: int, timeout: float) -> Outcome:
    from faststream.kafka import KafkaBroker

    topic, group = unique("faststream"), unique("faststream-group")
    tally = Tally(count)
    data = bodies(range(count), w.size)
    servers = baseline.connection(url)["bootstrap_servers"]
    # publish_batch sends the whole batch as one record batch: 500 messages need more than
    # aiokafka's default 16 KiB max_batch_size, so it is raised to 1 MiB (BATCH_BYTES)
    broker = KafkaBroker(
        servers, acks="all", enable_idempotence=True, max_batch_size=BATCH_BYTES, logger=None
    )
    # Registered before the broker starts, started only after the topic is filled: the
    # first-to-last timing then measures consumption alone, as on the other sides.
    if w.kind == "consume-each":

        @broker.subscriber(topic, group_id=group, auto_offset_reset="earliest")
        async def handle(body: bytes) -> None:
            tally.mark(body)

    else:

        @broker.subscriber(
            topic, group_id=group, auto_offset_reset="earliest", batch=True,
            max_records=w.prefetch,
        )  # fmt: skip
        async def handle_batch(batch: list[bytes]) -> None:
            for body in batch:
                tally.mark(body)

    await baseline.create_topic(url, topic, w.partitions)
    try:
        await broker.connect()
        seconds = 0.0
        if w.kind == "produce-awaited":

            async def each() -> None:
                for item in data:
                    await broker.publish(item, topic)

            seconds = await timed(each)
        elif w.kind == "produce-batch":

            async def batches() -> None:
                for chunk in chunks(data, w.batch):
                    await broker.publish_batch(*chunk, topic=topic)

            seconds = await timed(batches)
        else:
            for chunk in chunks(data, w.batch):
                await broker.publish_batch(*chunk, topic=topic)
        await broker.start()
        counts = await drain(None, tally, "faststream", timeout)
    finally:
        with contextlib.suppress(Exception):
            await broker.stop()
        await baseline.delete_topic(url, topic)
    return Outcome(count / seconds if seconds else tally.rate(), counts)


SIDES: dict[str, Side] = {"anymq": anymq_side, "faststream": faststream_side, "raw": raw_side}
