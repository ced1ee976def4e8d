"""The workload through the public anymq API only (any URL, any backend).

Producers send with ``send_batch`` (the batch path every backend provides) or, for
``send="single"``, one awaited ``send`` at a time; group members drain with
``receive(max_messages=prefetch)`` and ack each message (``consume="iterate"``: ``async
for`` + ``ack``; ``"batch"``: ``receive`` + ``ack_many``); the latency phase sends with
``send`` one message at a time. Only API that anymq has had since before the plugin
redesign is used (connect, create/delete_topic, producer/consumer, send, send_batch,
receive, ack, ack_many, iteration), so ``benchmarks/ab.py`` can run this module against an
older anymq.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import anymq
from anymq.compare.cleanup import Tracker
from anymq.compare.perf.workload import (
    Drain,
    PingPong,
    Plan,
    RoundResult,
    Workers,
    bodies,
    timed,
)

CLIENT = "anymq"
DESCRIPTION = "anymq public API: send_batch, receive(max_messages=prefetch), ack per message"
POLL = 0.1
"""Seconds a member's receive waits before it checks whether the phase is over."""


async def delete_topic(url: str, topic: str) -> None:
    """Remove a topic this run created (a missing topic counts as removed)."""
    async with anymq.connect(url) as broker:
        with contextlib.suppress(anymq.TopicNotFound):
            await broker.delete_topic(topic)


async def run_round(url: str, plan: Plan, tracker: Tracker) -> RoundResult:
    topic, group = tracker.name("perf"), tracker.name("group")
    created = tracker.add(f"anymq topic {topic}", lambda: delete_topic(url, topic))
    produce_seconds = consume_seconds = 0.0
    latencies: list[int] = []
    drain = Drain(plan.drain_count)
    try:
        async with anymq.connect(url) as broker:
            await broker.create_topic(topic, partitions=plan.partitions)
            consumers = [
                broker.consumer(topic, group, prefetch=plan.prefetch) for _ in range(plan.consumers)
            ]
            for consumer in consumers:
                await consumer.start()  # live from here: nothing sent later is missed
            producers = [broker.producer() for _ in range(plan.producers)]
            for producer in producers:
                await producer.start()
            if plan.runs("produce"):
                produce_seconds = await _produce(topic, producers, plan)
            if plan.runs("consume"):
                consume_seconds = await _drain(consumers, plan, drain)
            if plan.runs("latency"):
                latencies = await _latency(topic, consumers, producers[0], plan)
    finally:
        await tracker.undo(created)
    return RoundResult(produce_seconds, consume_seconds, latencies, drain.duplicates)


async def _produce(topic: str, producers: list[anymq.Producer], plan: Plan) -> float:
    if plan.send == "single":
        shares = [bodies(share, plan.size) for share in plan.shares()]

        async def one_by_one(producer: anymq.Producer, data: list[bytes]) -> None:
            for item in data:
                await producer.send(topic, item)

        return await timed(
            asyncio.gather(*(one_by_one(p, d) for p, d in zip(producers, shares, strict=True))),
            plan.phase_timeout,
            "producing",
        )
    batches = [[anymq.Message(b) for b in bodies(share, plan.size)] for share in plan.shares()]

    async def produce(producer: anymq.Producer, messages: list[anymq.Message]) -> None:
        for i in range(0, len(messages), plan.batch):
            await producer.send_batch(topic, messages[i : i + plan.batch])

    return await timed(
        asyncio.gather(*(produce(p, m) for p, m in zip(producers, batches, strict=True))),
        plan.phase_timeout,
        "producing",
    )


async def _drain(consumers: list[anymq.Consumer], plan: Plan, drain: Drain) -> float:
    # an iterating member cannot poll the stop flag while it waits: cancel it at the end
    async with Workers(grace=0 if plan.consume == "iterate" else 5.0) as workers:

        async def member(consumer: anymq.Consumer) -> None:
            if plan.consume == "iterate":
                async for msg in consumer:
                    drain.mark(msg.body)
                    await msg.ack()
                    if drain.done:
                        return
            while not (workers.stopped or drain.done):
                got = await consumer.receive(plan.prefetch, POLL)
                if plan.consume == "batch":
                    for msg in got:
                        drain.mark(msg.body)
                    await consumer.ack_many(got)
                    continue
                for msg in got:
                    drain.mark(msg.body)
                    await msg.ack()

        for consumer in consumers:
            workers.start(member(consumer), drain)
        return await drain.timed(plan.phase_timeout)


async def _latency(
    topic: str, consumers: list[anymq.Consumer], sender: anymq.Producer, plan: Plan
) -> list[int]:
    pingpong = PingPong(plan)
    async with Workers() as workers:

        async def listen(consumer: anymq.Consumer) -> None:
            while not workers.stopped:
                for msg in await consumer.receive(plan.prefetch, POLL):
                    pingpong.received(msg.body, time.perf_counter_ns())
                    await msg.ack()

        for consumer in consumers:
            workers.start(listen(consumer), pingpong)
        await pingpong.run(lambda data: sender.send(topic, data))
    return pingpong.latencies_ns
