"""A third-party backend as docs/plugins.md describes one, with its own compare profile.

It reuses the memory driver under the scheme ``memtest://`` and measures it against its own
raw baseline (a list handed over with an asyncio.Event), so a test can register it at run
time and check that ``anymq compare`` gives it the full report: behaviour and performance.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time

from anymq.compare.cleanup import Tracker
from anymq.compare.perf.workload import Drain, PingPong, Plan, RoundResult, bodies, timed
from anymq.compare.profile import Baseline, CompareProfile, no_network
from anymq.hookspecs import BackendSpec, hookimpl
from anymq_memory.driver import CAPABILITIES, MemoryBroker


class MemtestBroker(MemoryBroker):
    name = "memtest"
    capabilities = dataclasses.replace(CAPABILITIES, backend="memtest")


@hookimpl
def anymq_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            name="memtest",
            schemes=("memtest",),
            driver="tests.compare.memtest:MemtestBroker",
            compare_profile="tests.compare.memtest:PROFILE",
        )
    ]


class Handoff:
    """The raw side: messages appended to a list, a waiting member woken by an event."""

    def __init__(self) -> None:
        self.items: list[bytes] = []
        self.ready = asyncio.Event()

    def put(self, data: bytes) -> None:
        self.items.append(data)
        self.ready.set()

    async def take(self) -> list[bytes]:
        while not self.items:
            self.ready.clear()
            await self.ready.wait()
        taken, self.items = self.items, []
        return taken


async def run_round(url: str, plan: Plan, tracker: Tracker) -> RoundResult:
    handoff = Handoff()
    batches = [bodies(share, plan.size) for share in plan.shares()]

    async def produce(messages: list[bytes]) -> None:
        for data in messages:
            handoff.put(data)
        await asyncio.sleep(0)

    produce_seconds = await timed(
        asyncio.gather(*(produce(m) for m in batches)), plan.phase_timeout, "producing"
    )
    drain = Drain(plan.count)

    async def member() -> None:
        while not drain.done:
            for data in await handoff.take():
                drain.mark(data)

    task = asyncio.ensure_future(member())
    try:
        consume_seconds = await drain.timed(plan.phase_timeout)
    finally:
        task.cancel()
    pingpong = PingPong(plan)

    async def listen() -> None:
        while True:
            for data in await handoff.take():
                pingpong.received(data, time.perf_counter_ns())

    async def send(data: bytes) -> None:
        handoff.put(data)

    listener = asyncio.ensure_future(listen())
    try:
        await pingpong.run(send)
    finally:
        listener.cancel()
    return RoundResult(produce_seconds, consume_seconds, pingpong.latencies_ns, drain.duplicates)


BASELINE = Baseline(
    client="list handoff", description="a list and an asyncio.Event", run_round=run_round
)

PROFILE = CompareProfile(
    kind="memtest",
    address=no_network,
    tuning={
        "quiet_period": 0.05,
        "delivery_timeout": 5.0,
        "retention_seconds": 0.3,
        "retention_timeout": 5.0,
    },
    baseline="tests.compare.memtest:BASELINE",
)
