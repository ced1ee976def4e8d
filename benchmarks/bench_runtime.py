"""The application runtime (anymq.App) against its ideal and against a bare consume loop.

    python benchmarks/bench_runtime.py [URL] [--rounds R] [--overhead-count N]

URL defaults to memory://. Two figures, each a ratio so machines compare:

- concurrency: a handler that awaits 10 ms, for N in (1, 10, 100): measured msg/s divided
  by the ideal N x 100 msg/s (issue 15 asks for >= 0.8), and divided by the lower of the
  ideal and the bare loop's rate: where the broker itself delivers fewer than N x 100 msg/s
  to one consumer on this machine (RabbitMQ, moto's SQS at N = 100), no handler runtime can
  reach the ideal, and the second ratio shows what the runtime costs on top of the broker;
- overhead: a CPU-free handler run by the App (concurrency 1) against the loop a user would
  write without it (``async for msg in consumer: await handle(msg.body); await msg.ack()``):
  runtime time / bare time (issue 15 asks for <= 1.10).

Messages are sent before each round and read with ``start="earliest"`` by a new group, so
only consuming is timed. Each figure is the best of R rounds (rounds alternate bare and
runtime), which filters out a neighbour's load on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import anymq


async def fill(url: str, count: int, keys: int) -> str:
    topic = f"bench-rt-{uuid.uuid4().hex[:8]}"
    async with anymq.connect(url) as broker:
        await broker.create_topic(topic, partitions=4 if "memory" in url or "kafka" in url else 1)
        async with broker.producer() as producer:
            batch = [
                anymq.Message(b"x" * 100, key=(b"k%d" % (i % keys)) if keys else None)
                for i in range(count)
            ]
            for i in range(0, len(batch), 1000):
                await producer.send_batch(topic, batch[i : i + 1000])
    return topic


async def drop(url: str, topic: str) -> None:
    async with anymq.connect(url) as broker:
        await broker.delete_topic(topic)
        dlt = f"{topic}.DLT"
        if dlt in await broker.list_topics():
            await broker.delete_topic(dlt)


async def run_app(url: str, topic: str, count: int, concurrency: int, sleep: float) -> float:
    """Seconds from the first handler start to the last handler end."""
    app = anymq.App(url)
    done = 0
    first = 0.0
    finished = asyncio.get_running_loop().create_future()

    @app.handler(topic, group="bench", concurrency=concurrency, serializer=None, start="earliest")
    async def handle(body: bytes) -> None:
        nonlocal done, first
        if not first:
            first = time.perf_counter()
        if sleep:
            await asyncio.sleep(sleep)
        done += 1
        if done == count and not finished.done():
            finished.set_result(time.perf_counter())

    async with app:
        end = await asyncio.wait_for(finished, 600)
    return float(end - first)


async def run_bare(url: str, topic: str, count: int) -> float:
    async def handle(body: bytes) -> None:
        return None

    async with (
        anymq.connect(url) as broker,
        broker.consumer(topic, "bench", start="earliest") as consumer,
    ):
        seen = 0
        first = 0.0
        async for msg in consumer:
            if not first:
                first = time.perf_counter()
            await handle(msg.body)
            await msg.ack()
            seen += 1
            if seen == count:
                return time.perf_counter() - first
    raise AssertionError("the consumer ended early")


async def concurrency_rate(url: str, n: int, rounds: int) -> float:
    """The best msg/s of ``rounds`` runs of a 10 ms handler with ``concurrency=n``."""
    count = max(300, n * 100 * 3)  # about 3 s at the ideal rate
    best = 0.0
    for _ in range(rounds):
        topic = await fill(url, count, keys=0)
        try:
            seconds = await run_app(url, topic, count, n, 0.010)
        finally:
            await drop(url, topic)
        best = max(best, count / seconds)
    return best


async def bare_rate(url: str, count: int, rounds: int) -> float:
    """The best msg/s of the bare loop: what this broker and machine deliver at all."""
    best = 0.0
    for _ in range(rounds):
        topic = await fill(url, count, keys=0)
        try:
            best = max(best, count / await run_bare(url, topic, count))
        finally:
            await drop(url, topic)
    return best


async def overhead_ratio(url: str, count: int, rounds: int) -> tuple[float, float, float]:
    bare = runtime = float("inf")
    for _ in range(rounds):
        topic = await fill(url, count, keys=0)
        try:
            bare = min(bare, await run_bare(url, topic, count))
        finally:
            await drop(url, topic)
        topic = await fill(url, count, keys=0)
        try:
            runtime = min(runtime, await run_app(url, topic, count, 1, 0.0))
        finally:
            await drop(url, topic)
    return runtime / bare, count / bare, count / runtime


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("url", nargs="?", default="memory://bench-runtime")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--overhead-count", type=int, default=None)
    parser.add_argument("--only", choices=["concurrency", "overhead"])
    args = parser.parse_args()
    url: str = args.url
    if args.only != "overhead":
        ceiling = await bare_rate(url, 10_000 if url.startswith("memory") else 3_000, args.rounds)
        print(f"bare loop (CPU-free handler, one at a time): {ceiling:,.0f} msg/s")
        for n in (1, 10, 100):
            rate = await concurrency_rate(url, n, args.rounds)
            ideal = n * 100
            print(
                f"10 ms handler, concurrency {n:>3}: {rate / ideal:.2f} x ideal ({ideal} msg/s), "
                f"{rate / min(ideal, ceiling):.2f} x min(ideal, bare loop) ({rate:,.0f} msg/s)"
            )
    if args.only != "concurrency":
        count = args.overhead_count or (100_000 if url.startswith("memory") else 20_000)
        ratio, bare, runtime = await overhead_ratio(url, count, args.rounds)
        print(
            f"CPU-free handler: runtime / bare loop = {ratio:.2f} "
            f"(bare {bare:,.0f} msg/s, runtime {runtime:,.0f} msg/s, {count} messages)"
        )


if __name__ == "__main__":
    asyncio.run(main())
