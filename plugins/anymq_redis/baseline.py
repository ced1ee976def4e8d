"""The redis:// baseline: the same workload through redis-py's asyncio client directly.

Written the way a Redis Streams user would: one stream per partition, keyless messages
spread round robin, each batch one pipeline of XADDs; one consumer group whose members
all read every stream with XREADGROUP (COUNT prefetch, BLOCK 100 ms) and XACK each
message (one XACK per stream and batch on the "batch" consume path). No partition leases:
the raw client gives up per-key order across members, anymq keeps it. The client is the
plugin's own for the URL (host, db, login, TLS, timeouts). Imported only when a run
measures Redis.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

from redis.asyncio import Redis

from anymq.compare.cleanup import Tracker
from anymq.compare.perf.workload import Drain, PingPong, Plan, RoundResult, Workers, bodies, timed
from anymq.compare.profile import Baseline, driver_for
from anymq_redis.driver import RedisBroker

BLOCK_MS = 100


async def run_round(url: str, plan: Plan, tracker: Tracker) -> RoundResult:
    driver = driver_for(url)
    assert isinstance(driver, RedisBroker), f"{url} is not served by the redis backend"
    client: Redis = driver.client
    prefix, group = tracker.name("raw"), "raw-group"
    names = [f"{prefix}:{p}" for p in range(plan.partitions)]

    async def drop() -> None:
        await client.delete(*names)

    created = tracker.add(f"redis streams {prefix}:*", drop)
    try:
        for name in names:
            await client.xgroup_create(name, group, "$", mkstream=True)
        produce_seconds = consume_seconds = 0.0
        drain = Drain(plan.drain_count)
        spread = itertools.cycle(names)
        step = 1 if plan.send == "single" else plan.batch

        async def send(messages: list[bytes]) -> None:
            async with client.pipeline(transaction=False) as pipe:
                for data in messages:
                    pipe.xadd(next(spread), {b"v": data})
                await pipe.execute()

        if plan.runs("produce"):

            async def produce(messages: list[bytes]) -> None:
                for i in range(0, len(messages), step):
                    await send(messages[i : i + step])

            batches = [bodies(share, plan.size) for share in plan.shares()]
            produce_seconds = await timed(
                asyncio.gather(*(produce(m) for m in batches)), plan.phase_timeout, "producing"
            )

        async def member(n: int, workers: Workers, handle: Any) -> None:
            streams: dict[Any, Any] = dict.fromkeys(names, ">")
            while not workers.stopped:
                found = await client.xreadgroup(
                    group, f"m{n}", streams, count=plan.prefetch, block=BLOCK_MS
                )
                for name, entries in found or ():
                    if plan.consume == "batch":
                        for _, fields in entries:
                            handle(fields[b"v"])
                        await client.xack(name, group, *(i for i, _ in entries))
                        continue
                    for entry, fields in entries:
                        handle(fields[b"v"])
                        await client.xack(name, group, entry)

        if plan.runs("consume"):
            async with Workers() as workers:
                for n in range(plan.consumers):
                    workers.start(member(n, workers, drain.mark), drain)
                consume_seconds = await drain.timed(plan.phase_timeout)

        latencies: list[int] = []
        if plan.runs("latency"):
            for name in names:  # a produce-only backlog is not this phase's
                await client.xgroup_setid(name, group, "$")
            pingpong = PingPong(plan)
            async with Workers() as workers:

                def got(data: bytes) -> None:
                    pingpong.received(data, time.perf_counter_ns())

                for n in range(plan.consumers):
                    workers.start(member(n, workers, got), pingpong)
                await pingpong.run(lambda data: send([data]))
            latencies = pingpong.latencies_ns
    finally:
        await tracker.undo(created)
        await client.aclose()
    return RoundResult(produce_seconds, consume_seconds, latencies, drain.duplicates)


BASELINE = Baseline(
    client="redis",
    description="redis-py asyncio: a pipeline of XADDs per batch, one consumer group whose "
    "members XREADGROUP every stream and XACK each message",
    run_round=run_round,
    differs=(
        "the raw members share every stream with no partition leases (no per-key order "
        "across members); anymq's hold one lease per partition and heartbeat it"
    ),
)
