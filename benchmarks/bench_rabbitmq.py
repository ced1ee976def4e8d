"""anymq's RabbitMQ backend against raw aio-pika on the same server, in the same run.

    python benchmarks/bench_rabbitmq.py [--url amqp://guest:guest@127.0.0.1:5672/] [--rounds 3]

Both sides use the same exchange and the same kind of queue (anymq's group queue: a
quorum queue bound to the topic's exchange), persistent messages and publisher confirms.
Workloads (anymq and raw alternate round by round; the median of the rounds counts), each
with 100 B and 1 KiB bodies:

- publish: one message at a time, each send awaited until confirmed
  (``producer.send`` vs ``exchange.publish`` on a confirm channel);
- publish batch: 1,000 messages at a time (``producer.send_batch`` vs ``asyncio.gather``
  of ``exchange.publish``, the usual aio-pika idiom);
- consume: a pre-filled queue drained with prefetch 500, every message acked
  (``consumer.receive`` + ``msg.ack()`` vs ``queue.iterator()`` + ``message.ack()``).

Target: anymq / raw >= 0.9. Results go to reports/bench_rabbitmq.json.
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

import aio_pika

import anymq
from anymq_rabbitmq.baseline import amqp_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Result, ratio_table

ROOT = Path(__file__).resolve().parent.parent
PREFETCH = 500
CHUNK = 1000
GROUP = "bench"


def raw_url(url: str) -> str:
    """The raw client's URL: the same as anymq compare's baseline (the plugin's own vhost,
    credentials and TLS files for the URL)."""
    return amqp_url(url)


class Bench:
    """One topic (exchange + quorum group queue) per side, re-used by every round."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.broker = anymq.connect(url)
        self.topics: list[str] = []
        self.raw: aio_pika.abc.AbstractRobustConnection | None = None

    async def __aenter__(self) -> Bench:
        await self.broker.start()
        self.raw = await aio_pika.connect_robust(raw_url(self.url))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for topic in self.topics:
            await self.broker.delete_topic(topic)
        await self.broker.close()
        if self.raw is not None:
            await self.raw.close()

    async def topic(self) -> str:
        """A topic whose group queue exists (declared by anymq, used by both sides)."""
        name = f"bench-{uuid.uuid4().hex[:10]}"
        await self.broker.create_topic(name)
        self.topics.append(name)
        async with self.broker.consumer(name, GROUP):
            pass
        return name

    async def purge(self, topic: str) -> None:
        assert self.raw is not None
        channel = await self.raw.channel()
        queue = await channel.get_queue(f"{topic}.{GROUP}")
        await queue.purge()
        await channel.close()

    # -- publish ----------------------------------------------------------------------
    async def publish_anymq(self, topic: str, count: int, body: bytes) -> float:
        async with self.broker.producer() as producer:
            await producer.send(topic, body)  # warm-up: channel and topic check
            started = time.perf_counter()
            for _ in range(count):
                await producer.send(topic, body)
            return count / (time.perf_counter() - started)

    async def publish_raw(self, topic: str, count: int, body: bytes) -> float:
        assert self.raw is not None
        channel = await self.raw.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(topic)
        await exchange.publish(aio_pika.Message(body, delivery_mode=2), topic)
        started = time.perf_counter()
        for _ in range(count):
            await exchange.publish(aio_pika.Message(body, delivery_mode=2), topic)
        rate = count / (time.perf_counter() - started)
        await channel.close()
        return rate

    async def batch_anymq(self, topic: str, count: int, body: bytes) -> float:
        batch = [anymq.Message(body) for _ in range(CHUNK)]
        async with self.broker.producer() as producer:
            await producer.send_batch(topic, batch[:10])
            started = time.perf_counter()
            for _ in range(count // CHUNK):
                await producer.send_batch(topic, batch)
            return (count // CHUNK) * CHUNK / (time.perf_counter() - started)

    async def batch_raw(self, topic: str, count: int, body: bytes) -> float:
        assert self.raw is not None
        channel = await self.raw.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(topic)
        await exchange.publish(aio_pika.Message(body, delivery_mode=2), topic)
        started = time.perf_counter()
        for _ in range(count // CHUNK):
            await asyncio.gather(
                *(
                    exchange.publish(aio_pika.Message(body, delivery_mode=2), topic)
                    for _ in range(CHUNK)
                )
            )
        rate = (count // CHUNK) * CHUNK / (time.perf_counter() - started)
        await channel.close()
        return rate

    # -- consume ----------------------------------------------------------------------
    async def fill(self, topic: str, count: int, body: bytes) -> None:
        await self.purge(topic)
        async with self.broker.producer() as producer:
            batch = [anymq.Message(body) for _ in range(CHUNK)]
            for _ in range(count // CHUNK):
                await producer.send_batch(topic, batch)

    async def consume_anymq(self, topic: str, count: int, body: bytes) -> float:
        await self.fill(topic, count, body)
        got = 0
        async with self.broker.consumer(topic, GROUP, prefetch=PREFETCH) as consumer:
            started = time.perf_counter()
            while got < count:
                for msg in await consumer.receive(PREFETCH, 5.0):
                    await msg.ack()
                    got += 1
            return count / (time.perf_counter() - started)

    async def consume_raw(self, topic: str, count: int, body: bytes) -> float:
        await self.fill(topic, count, body)
        assert self.raw is not None
        channel = await self.raw.channel()
        await channel.set_qos(prefetch_count=PREFETCH)
        queue = await channel.get_queue(f"{topic}.{GROUP}")
        got = 0
        started = time.perf_counter()
        async with queue.iterator() as messages:
            async for message in messages:
                await message.ack()
                got += 1
                if got >= count:
                    break
        rate = count / (time.perf_counter() - started)
        await channel.close()
        return rate


async def compare(
    name: str,
    rounds: int,
    ours: Callable[[], Awaitable[float]],
    raw: Callable[[], Awaitable[float]],
) -> tuple[str, Result, Result]:
    mine, theirs = Result(f"anymq {name}"), Result(f"raw {name}")
    for i in range(rounds):
        first, second = (ours, raw) if i % 2 == 0 else (raw, ours)
        a = await first()
        b = await second()
        mine.rates.append(a if first is ours else b)
        theirs.rates.append(b if first is ours else a)
    return name, mine, theirs


async def main(url: str, rounds: int, count: int) -> list[dict[str, Any]]:
    pairs: list[tuple[str, Result, Result]] = []
    async with Bench(url) as bench:
        ours_topic, raw_topic = await bench.topic(), await bench.topic()
        for size in (100, 1024):
            body = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
            label = "100 B" if size == 100 else "1 KiB"
            single = max(500, count // 10)
            pairs.append(
                await compare(
                    f"publish, confirmed one at a time, {label}",
                    rounds,
                    lambda b=body, n=single: bench.publish_anymq(ours_topic, n, b),
                    lambda b=body, n=single: bench.publish_raw(raw_topic, n, b),
                )
            )
            await bench.purge(ours_topic)
            await bench.purge(raw_topic)
            pairs.append(
                await compare(
                    f"publish batch of {CHUNK}, confirmed, {label}",
                    rounds,
                    lambda b=body: bench.batch_anymq(ours_topic, count, b),
                    lambda b=body: bench.batch_raw(raw_topic, count, b),
                )
            )
            await bench.purge(ours_topic)
            await bench.purge(raw_topic)
            pairs.append(
                await compare(
                    f"consume prefetch {PREFETCH} + ack, {label}",
                    rounds,
                    lambda b=body: bench.consume_anymq(ours_topic, count, b),
                    lambda b=body: bench.consume_raw(raw_topic, count, b),
                )
            )
    rows = ratio_table("anymq rabbitmq vs raw aio-pika (same server, same run)", pairs)
    return rows


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--count", type=int, default=10_000, help="messages per round")
    args = parser.parse_args()
    rows = asyncio.run(main(args.url, max(3, args.rounds), args.count))
    out = ROOT / "reports" / "bench_rabbitmq.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {"url": anymq.URL.parse(args.url).render(), "rounds": args.rounds, "rows": rows},
            indent=2,
        )
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    cli()
