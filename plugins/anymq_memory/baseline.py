"""The memory:// baseline: the same workload as a bare asyncio.Queue handoff between tasks.

This is the ceiling for any in-process broker: no log, no offsets, no groups, no acks. The
ratio against it shows what anymq's memory backend pays for behaving like a real broker.
Every send and consume path of the plan maps to the same queue operations (there is
nothing to confirm or to ack); a one-at-a-time send yields to the loop after each message,
where a broker would confirm it.
"""

from __future__ import annotations

import asyncio
import time

from anymq.compare.cleanup import Tracker
from anymq.compare.perf.workload import Drain, PingPong, Plan, RoundResult, bodies, timed
from anymq.compare.profile import Baseline

_STOP = b""


async def run_round(url: str, plan: Plan, tracker: Tracker) -> RoundResult:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    produce_seconds = consume_seconds = 0.0
    drain = Drain(plan.drain_count)
    latencies: list[int] = []
    step = 1 if plan.send == "single" else plan.batch
    if plan.runs("produce"):
        batches = [bodies(share, plan.size) for share in plan.shares()]

        async def produce(messages: list[bytes]) -> None:
            put = queue.put_nowait
            for i in range(0, len(messages), step):
                for data in messages[i : i + step]:
                    put(data)
                await asyncio.sleep(0)  # where a broker would confirm the batch

        produce_seconds = await timed(
            asyncio.gather(*(produce(m) for m in batches)), plan.phase_timeout, "producing"
        )

    if plan.runs("consume"):

        async def member() -> None:
            get = queue.get
            while not drain.done:
                drain.mark(await get())

        members = [asyncio.ensure_future(member()) for _ in range(plan.consumers)]
        try:
            consume_seconds = await drain.timed(plan.phase_timeout)
        finally:
            for task in members:
                task.cancel()
            await asyncio.gather(*members, return_exceptions=True)

    if plan.runs("latency"):
        latencies = await _latency(queue, plan)
    return RoundResult(produce_seconds, consume_seconds, latencies, drain.duplicates)


async def _latency(queue: asyncio.Queue[bytes], plan: Plan) -> list[int]:
    while not queue.empty():  # a produce-only backlog is not this phase's
        queue.get_nowait()
    pingpong = PingPong(plan)

    async def listen() -> None:
        get = queue.get
        while (data := await get()) is not _STOP:
            pingpong.received(data, time.perf_counter_ns())

    async def send(data: bytes) -> None:
        queue.put_nowait(data)

    listeners = [asyncio.ensure_future(listen()) for _ in range(plan.consumers)]
    try:
        await pingpong.run(send)
    finally:
        for _ in listeners:
            queue.put_nowait(_STOP)
        await asyncio.gather(*listeners, return_exceptions=True)
    return pingpong.latencies_ns


BASELINE = Baseline(
    client="asyncio.Queue (no broker)",
    description="a bare asyncio.Queue: put_nowait per message, one get() per message",
    run_round=run_round,
    differs=(
        "not a client of any broker: a bare asyncio.Queue keeps no log, offsets, groups or "
        "acks, so the ratio is what the memory backend pays for behaving like a broker"
    ),
)
