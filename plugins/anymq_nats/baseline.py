"""The NATS baseline: the same workload through nats-py's JetStream API directly.

Written the way a careful nats-py user would: a stream with one subject per partition,
``publish_async`` for a batch (then await the acks), ``publish`` for one at a time, one
durable pull consumer shared by the group's members, ``fetch(prefetch)`` and an ack per
message. Imported only when a run measures NATS.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from typing import Any

import nats
from nats.js import api as js_api

from anymq.compare.cleanup import Tracker
from anymq.compare.perf.workload import Drain, PingPong, Plan, RoundResult, Workers, bodies, timed
from anymq.compare.profile import Baseline, driver_for
from anymq_nats.driver import NatsBroker


async def run_round(url: str, plan: Plan, tracker: Tracker) -> RoundResult:
    driver = driver_for(url)
    assert isinstance(driver, NatsBroker), f"{url} is not served by the nats backend"
    nc = await nats.connect(
        servers=driver.servers, user=driver.url.username, password=driver.url.password
    )
    js = nc.jetstream()
    stream = tracker.name("raw").replace(".", "-")
    subjects = [f"{stream}.{p}" for p in range(plan.partitions)]

    async def delete() -> None:
        with contextlib.suppress(Exception):
            await js.delete_stream(stream)

    created = tracker.add(f"nats stream {stream}", delete)
    produce_seconds = consume_seconds = 0.0
    drain = Drain(plan.drain_count)
    latencies: list[int] = []
    try:
        await js.add_stream(name=stream, subjects=subjects)
        await js.add_consumer(
            stream,
            js_api.ConsumerConfig(durable_name="raw", deliver_policy=js_api.DeliverPolicy.ALL),
        )
        subs = [await js.pull_subscribe_bind("raw", stream) for _ in range(plan.consumers)]
        if plan.runs("produce"):
            batches = [bodies(share, plan.size) for share in plan.shares()]

            async def produce(messages: list[bytes]) -> None:
                spread = itertools.cycle(subjects)
                if plan.send == "single":
                    for data in messages:
                        await js.publish(next(spread), data)
                    return
                for i in range(0, len(messages), plan.batch):
                    acks = [
                        await js.publish_async(next(spread), data)
                        for data in messages[i : i + plan.batch]
                    ]
                    await asyncio.gather(*acks)

            produce_seconds = await timed(
                asyncio.gather(*(produce(m) for m in batches)), plan.phase_timeout, "producing"
            )
        if plan.runs("consume"):
            async with Workers() as workers:

                async def member(sub: Any) -> None:
                    while not (workers.stopped or drain.done):
                        with contextlib.suppress(nats.errors.TimeoutError):
                            for msg in await sub.fetch(plan.prefetch, timeout=0.2):
                                drain.mark(msg.data)
                                await msg.ack()

                for sub in subs:
                    workers.start(member(sub), drain)
                consume_seconds = await drain.timed(plan.phase_timeout)
        if plan.runs("latency"):
            pingpong = PingPong(plan)
            async with Workers() as workers:

                async def listen(sub: Any) -> None:
                    while not workers.stopped:
                        with contextlib.suppress(nats.errors.TimeoutError):
                            for msg in await sub.fetch(plan.prefetch, timeout=0.2):
                                pingpong.received(msg.data, time.perf_counter_ns())
                                await msg.ack()

                for sub in subs:
                    workers.start(listen(sub), pingpong)
                latencies = await pingpong.run(lambda data: js.publish(subjects[0], data))
    finally:
        await tracker.undo(created)
        with contextlib.suppress(Exception):
            await nc.close()
    return RoundResult(produce_seconds, consume_seconds, latencies, drain.duplicates)


BASELINE = Baseline(
    client="nats-py",
    distribution="nats-py",
    description=(
        "nats-py JetStream: publish_async per batch then await the acks (publish when one at "
        "a time); one durable pull consumer shared by the members, fetch(prefetch), ack each"
    ),
    run_round=run_round,
)
