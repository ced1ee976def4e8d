"""Produce+consume throughput of one group on memory://, against a bare asyncio.Queue.

    python benchmarks/bench_memory.py [--count 200000] [--rounds 3]

The baseline is the cheapest possible handoff between two asyncio tasks; the memory
backend does more (offsets, partitions, group positions, acks), so the ratio says how much
of the interpreter's budget per message anymq spends. Target: single-message path >= 0.3.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.table import Table

import anymq

VALUE = b"x" * 100


async def queue_handoff(count: int) -> float:
    queue: asyncio.Queue[bytes] = asyncio.Queue()

    async def produce() -> None:
        for _ in range(count):
            await queue.put(VALUE)

    async def consume() -> None:
        for _ in range(count):
            await queue.get()

    started = time.perf_counter()
    await asyncio.gather(produce(), consume())
    return count / (time.perf_counter() - started)


async def anymq_single(count: int) -> float:
    async with anymq.connect(f"memory://bench-{uuid.uuid4().hex}") as broker:
        await broker.create_topic("bench")
        async with broker.consumer("bench", "g") as consumer, broker.producer() as producer:

            async def produce() -> None:
                for _ in range(count):
                    await producer.send("bench", VALUE)

            async def consume() -> None:
                seen = 0
                async for msg in consumer:
                    await msg.ack()
                    seen += 1
                    if seen == count:
                        return

            started = time.perf_counter()
            await asyncio.gather(produce(), consume())
            return count / (time.perf_counter() - started)


async def anymq_batch(count: int, size: int = 500) -> float:
    async with anymq.connect(f"memory://bench-{uuid.uuid4().hex}") as broker:
        await broker.create_topic("bench")
        async with broker.consumer("bench", "g") as consumer, broker.producer() as producer:
            batch = [anymq.Message(VALUE)] * size

            async def produce() -> None:
                for _ in range(count // size):
                    await producer.send_batch("bench", batch)

            async def consume() -> None:
                seen = 0
                while seen < (count // size) * size:
                    got = await consumer.receive(max_messages=size, timeout=5)
                    await consumer.ack_many(got)
                    seen += len(got)

            started = time.perf_counter()
            await asyncio.gather(produce(), consume())
            return (count // size) * size / (time.perf_counter() - started)


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", default="reports/bench_memory.json")
    args = parser.parse_args(argv)
    runs: dict[str, list[float]] = {"queue": [], "single": [], "batch": []}
    for _ in range(args.rounds):  # alternate so drift hits every path alike
        runs["queue"].append(await queue_handoff(args.count))
        runs["single"].append(await anymq_single(args.count))
        runs["batch"].append(await anymq_batch(args.count))
    rates = {name: statistics.median(values) for name, values in runs.items()}
    table = Table(
        title=f"memory:// vs asyncio.Queue, {args.count:,} messages, median of {args.rounds}"
    )
    table.add_column("path")
    table.add_column("ratio to asyncio.Queue", justify="right")
    table.add_row("asyncio.Queue handoff (baseline)", "1.00")
    table.add_row(
        "anymq single-message send + async for + ack", f"{rates['single'] / rates['queue']:.2f}"
    )
    table.add_row("anymq send_batch + receive + ack_many", f"{rates['batch'] / rates['queue']:.2f}")
    Console().print(table)
    ratios = {name: rate / rates["queue"] for name, rate in rates.items()}
    _write(Path(args.json), {"count": args.count, "rates": rates, "ratios": ratios})
    return 0


def _write(path: Path, data: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
