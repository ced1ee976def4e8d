"""The standard workload through the public anymq API only (any URL, any backend).

Producers send with ``send_batch`` (the batch path every backend provides); group members
drain with ``receive(max_messages=prefetch)`` and ack each message; the latency phase
sends with ``send`` one message at a time.
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
            batches = [
                [anymq.Message(b) for b in bodies(share, plan.size)] for share in plan.shares()
            ]

            async def produce(producer: anymq.Producer, messages: list[anymq.Message]) -> None:
                for i in range(0, len(messages), plan.batch):
                    await producer.send_batch(topic, messages[i : i + plan.batch])

            produce_seconds = await timed(
                asyncio.gather(*(produce(p, m) for p, m in zip(producers, batches, strict=True))),
                plan.phase_timeout,
                "producing",
            )

            drain = Drain(plan.count)
            async with Workers() as workers:

                async def member(consumer: anymq.Consumer) -> None:
                    while not (workers.stopped or drain.done):
                        for msg in await consumer.receive(plan.prefetch, POLL):
                            drain.mark(msg.body)
                            await msg.ack()

                for consumer in consumers:
                    workers.start(member(consumer), drain)
                consume_seconds = await drain.timed(plan.phase_timeout)

            pingpong = PingPong(plan)
            async with Workers() as workers:

                async def listen(consumer: anymq.Consumer) -> None:
                    while not workers.stopped:
                        for msg in await consumer.receive(plan.prefetch, POLL):
                            pingpong.received(msg.body, time.perf_counter_ns())
                            await msg.ack()

                for consumer in consumers:
                    workers.start(listen(consumer), pingpong)
                sender = producers[0]
                await pingpong.run(lambda data: sender.send(topic, data))
    finally:
        await tracker.undo(created)
    return RoundResult(produce_seconds, consume_seconds, pingpong.latencies_ns, drain.duplicates)
