"""anymq's Kafka backend against raw aiokafka on the same broker, in the same run.

    python benchmarks/bench_kafka.py [--url kafka://127.0.0.1:9092] [--rounds 3]

Workloads (anymq and raw alternate round by round; the median of the rounds counts):

- produce: ``send_batch`` of 1,000 messages at a time vs raw ``send()`` of the same
  messages then awaiting every future; both acks=all with idempotence (anymq's default).
- consume: a new group reads a pre-filled topic from the earliest offset; anymq acks every
  message (``async for`` + ``await msg.ack()``, committed in the background), or uses the
  batch path (``receive(500)`` + ``ack_many``); raw aiokafka iterates the records of
  getmany() with its default auto-commit.
- latency: one message at a time, send awaited, a group member receives it; end-to-end
  milliseconds from before send to after receive (p50 / p99).

Targets: throughput ratio >= 0.9 and p99 ratio <= 1.1. Results go to reports/bench_kafka.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # type: ignore[import-untyped]

import anymq
from anymq_kafka.baseline import connection

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Result, ack_each_rate, alternate, ping_latencies, ratio_table

ROOT = Path(__file__).resolve().parent.parent
CHUNK = 1000
PARTITIONS = 3
FETCH_WAIT_MS = 100  # the same long-poll wait for both sides


def bootstrap(url: str) -> dict[str, Any]:
    """The raw clients' connection: the same as anymq compare's baseline (the plugin's own
    servers, security, SASL and TLS for the URL)."""
    return connection(url)


async def new_topic(url: str) -> str:
    name = f"bench-{uuid.uuid4().hex[:10]}"
    admin = AIOKafkaAdminClient(**bootstrap(url))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, PARTITIONS, 1)])
    finally:
        await admin.close()
    await asyncio.sleep(0.5)  # let metadata settle before timing
    return name


async def drop_topic(url: str, name: str) -> None:
    admin = AIOKafkaAdminClient(**bootstrap(url))
    await admin.start()
    try:
        await admin.delete_topics([name])
    finally:
        await admin.close()


# -- produce ----------------------------------------------------------------------------
async def produce_anymq(url: str, topic: str, count: int, value: bytes) -> float:
    async with anymq.connect(url) as broker, broker.producer() as producer:
        batch = [anymq.Message(value, key=b"k%d" % (i % 64)) for i in range(CHUNK)]
        await producer.send_batch(topic, batch[:10])  # connection and metadata warm-up
        started = time.perf_counter()
        for _ in range(count // CHUNK):
            await producer.send_batch(topic, batch)
        return (count // CHUNK) * CHUNK / (time.perf_counter() - started)


async def produce_raw(url: str, topic: str, count: int, value: bytes) -> float:
    producer = AIOKafkaProducer(
        **bootstrap(url), acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        keys = [b"k%d" % (i % 64) for i in range(CHUNK)]
        await producer.send_and_wait(topic, value, key=b"warm")
        started = time.perf_counter()
        for _ in range(count // CHUNK):
            futures = [await producer.send(topic, value, key=key) for key in keys]
            for future in futures:
                await future
        return (count // CHUNK) * CHUNK / (time.perf_counter() - started)
    finally:
        await producer.stop()


# -- consume ----------------------------------------------------------------------------
async def fill(url: str, topic: str, count: int, value: bytes) -> None:
    producer = AIOKafkaProducer(**bootstrap(url), linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=b"k%d" % (i % 64)) for i in range(count)]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def consume_anymq(url: str, topic: str, count: int) -> float:
    async with anymq.connect(url) as broker:
        group = f"bench-{uuid.uuid4().hex[:8]}"
        async with broker.consumer(
            topic, group, start="earliest", prefetch=500, fetch_max_wait_ms=FETCH_WAIT_MS
        ) as consumer:
            return await ack_each_rate(consumer, count)


async def consume_anymq_batch(url: str, topic: str, count: int) -> float:
    async with anymq.connect(url) as broker:
        group = f"bench-{uuid.uuid4().hex[:8]}"
        async with broker.consumer(
            topic, group, start="earliest", prefetch=500, fetch_max_wait_ms=FETCH_WAIT_MS
        ) as consumer:
            started = time.perf_counter()
            seen = 0
            while seen < count:
                batch = await consumer.receive(500, timeout=1)
                for _msg in batch:  # hand each message to the application
                    seen += 1
                await consumer.ack_many(batch)
            return seen / (time.perf_counter() - started)


async def consume_raw(url: str, topic: str, count: int) -> float:
    consumer = AIOKafkaConsumer(
        topic,
        **bootstrap(url),
        group_id=f"bench-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        fetch_max_wait_ms=FETCH_WAIT_MS,
    )
    await consumer.start()
    try:
        while not consumer.assignment():  # noqa: ASYNC110 - joined, like anymq's start()
            await asyncio.sleep(0.005)
        for tp in consumer.assignment():
            await consumer.position(tp)
        started = time.perf_counter()
        seen = 0
        while seen < count:
            batch = await consumer.getmany(timeout_ms=1000, max_records=500)
            for records in batch.values():
                for _record in records:  # hand each message to the application
                    seen += 1
        return seen / (time.perf_counter() - started)
    finally:
        await consumer.stop()


# -- latency ----------------------------------------------------------------------------
async def latency_anymq(url: str, topic: str, count: int) -> list[float]:
    async with anymq.connect(url) as broker:
        group = f"lat-{uuid.uuid4().hex[:8]}"
        async with (
            broker.consumer(topic, group, fetch_max_wait_ms=FETCH_WAIT_MS) as consumer,
            broker.producer() as producer,
        ):
            out, _rate = await ping_latencies(
                consumer, producer, topic, count, gap=0.001, timeout=60
            )
    return out


async def latency_raw(url: str, topic: str, count: int) -> list[float]:
    out: list[float] = []
    consumer = AIOKafkaConsumer(
        topic,
        **bootstrap(url),
        group_id=f"lat-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="latest",
        fetch_max_wait_ms=FETCH_WAIT_MS,
    )
    producer = AIOKafkaProducer(
        **bootstrap(url), acks="all", enable_idempotence=True
    )
    await consumer.start()
    await producer.start()
    try:
        while not consumer.assignment():  # noqa: ASYNC110 - aiokafka has no join event
            await asyncio.sleep(0.005)
        for tp in consumer.assignment():
            await consumer.position(tp)

        async def consume() -> None:
            while len(out) < count:
                batch = await consumer.getmany(timeout_ms=1000)
                now = time.perf_counter()
                for records in batch.values():
                    for record in records:
                        out.append((now - float(record.value)) * 1000)

        task = asyncio.get_running_loop().create_task(consume())
        for _ in range(count):
            await producer.send_and_wait(topic, repr(time.perf_counter()).encode())
            await asyncio.sleep(0.001)
        await asyncio.wait_for(task, 60)
    finally:
        await producer.stop()
        await consumer.stop()
    return out


# -- driver -----------------------------------------------------------------------------
async def run(url: str, rounds: int, count: int, latency_count: int) -> list[dict[str, Any]]:
    pairs: list[tuple[str, Result, Result]] = []

    async def measure(
        label: str,
        ours: Callable[..., Awaitable[float]],
        raw: Callable[..., Awaitable[float]],
        *args: Any,
        prefill: tuple[int, bytes] | None = None,
    ) -> None:
        """One workload on a fresh topic (pre-filled for consume workloads), both sides."""
        topic = await new_topic(url)
        try:
            if prefill is not None:
                await fill(url, topic, *prefill)
            result = await alternate(rounds, ours, raw, url, topic, *args)
        finally:
            await drop_topic(url, topic)
        pairs.append((label, *result))
        print(f"{label}: anymq {result[0].rates} raw {result[1].rates}", flush=True)

    for size in (1024, 100):
        value = b"x" * size
        n = count if size == 100 else count // 2
        filled = (n, value)
        await measure(
            f"produce {size} B (batches of {CHUNK})", produce_anymq, produce_raw, n, value
        )
        await measure(
            f"consume {size} B (group, ack each)", consume_anymq, consume_raw, n, prefill=filled
        )
        await measure(
            f"consume {size} B (receive(500) + ack_many)",
            consume_anymq_batch,
            consume_raw,
            n,
            prefill=filled,
        )

    ours, raw = Result("anymq"), Result("aiokafka")
    topic = await new_topic(url)
    try:
        for r in range(rounds):
            order = [(ours, latency_anymq), (raw, latency_raw)]
            for result, work in order if r % 2 == 0 else order[::-1]:
                started = time.perf_counter()
                result.latencies_ms.extend(await work(url, topic, latency_count))
                result.rates.append(latency_count / (time.perf_counter() - started))
    finally:
        await drop_topic(url, topic)
    pairs.append(("end-to-end latency (send awaited, 1 at a time)", ours, raw))
    rows = ratio_table(f"anymq vs aiokafka on {url}", pairs)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="kafka://127.0.0.1:9092")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=60_000, help="100 B messages per round")
    parser.add_argument("--latency-count", type=int, default=1000)
    args = parser.parse_args()
    rows = asyncio.run(run(args.url, args.rounds, args.count, args.latency_count))
    out = ROOT / "reports" / "bench_kafka.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps({"url": args.url, "rounds": args.rounds, "results": rows}, indent=2) + "\n"
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
