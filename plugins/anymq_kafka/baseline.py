"""The Kafka baseline: the same workload through aiokafka directly, for ``anymq compare``.

Written the way a careful aiokafka user would, with the same durability anymq's Kafka
backend uses: an idempotent producer with acks=all that sends each batch through
aiokafka's batch API (one record batch per partition, keyless messages spread round
robin), group members that getmany(max_records=prefetch) and let aiokafka commit in the
background every 200 ms, the same fetch wait (100 ms). A one-at-a-time send is
``send_and_wait``; every consume path is the getmany loop (aiokafka has no per-message
ack). Topics are created and deleted
with AIOKafkaAdminClient. Every client connects with the plugin's own settings for the
URL (servers, security, SASL, TLS), so both sides of the ratio talk to the same broker
the same way. Imported only when a run measures Kafka.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import aiokafka  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # type: ignore[import-untyped]

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
from anymq.compare.profile import Baseline, driver_for
from anymq_kafka.driver import KafkaBroker

POLL_MS = 100


def connection(url: str) -> dict[str, Any]:
    """aiokafka keyword arguments for ``url``, exactly as anymq's Kafka backend builds them."""
    driver = driver_for(url)
    assert isinstance(driver, KafkaBroker), f"{url} is not served by the kafka backend"
    return driver.settings.client_kwargs()


async def delete_topic(url: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(**connection(url))
    await admin.start()
    try:
        await admin.delete_topics([topic])
    finally:
        await admin.close()


async def create_topic(url: str, topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(**connection(url))
    await admin.start()
    try:
        response = await admin.create_topics([NewTopic(topic, partitions, 1)])
        for _, code, *_ in response.topic_errors:
            if code not in (0, 36):  # 36: already exists
                raise RuntimeError(f"creating Kafka topic {topic} failed with error code {code}")
    finally:
        await admin.close()


async def run_round(url: str, plan: Plan, tracker: Tracker) -> RoundResult:
    options = connection(url)
    topic, group = tracker.name("raw"), tracker.name("raw-group")
    created = tracker.add(f"kafka topic {topic}", lambda: delete_topic(url, topic))
    consumers: list[Any] = []
    producers: list[Any] = []
    try:
        await create_topic(url, topic, plan.partitions)
        for _ in range(plan.consumers):
            consumer = aiokafka.AIOKafkaConsumer(
                topic,
                group_id=group,
                enable_auto_commit=True,
                auto_commit_interval_ms=200,
                auto_offset_reset="earliest",
                max_poll_records=plan.prefetch,
                fetch_max_wait_ms=100,
                heartbeat_interval_ms=500,
                **options,
            )
            consumers.append(consumer)
            await consumer.start()
        await _assigned(consumers, plan)
        for _ in range(plan.producers):
            producer = aiokafka.AIOKafkaProducer(acks="all", enable_idempotence=True, **options)
            producers.append(producer)
            await producer.start()
        produce_seconds = consume_seconds = 0.0
        drain = Drain(plan.drain_count)
        latencies: list[int] = []
        if plan.runs("produce"):
            produce_seconds = await _produce(producers, topic, plan)

        if plan.runs("consume"):
            # raw aiokafka has no per-message ack: every consume path is the getmany loop
            # with background auto-commit
            async with Workers() as workers:

                async def member(consumer: Any) -> None:
                    while not (workers.stopped or drain.done):
                        fetched = await consumer.getmany(
                            timeout_ms=POLL_MS, max_records=plan.prefetch
                        )
                        for records in fetched.values():
                            for record in records:
                                drain.mark(record.value)

                for consumer in consumers:
                    workers.start(member(consumer), drain)
                consume_seconds = await drain.timed(plan.phase_timeout)

        if plan.runs("latency"):
            pingpong = PingPong(plan)
            async with Workers() as workers:

                async def listen(consumer: Any) -> None:
                    while not workers.stopped:
                        fetched = await consumer.getmany(
                            timeout_ms=POLL_MS, max_records=plan.prefetch
                        )
                        now = time.perf_counter_ns()
                        for records in fetched.values():
                            for record in records:
                                pingpong.received(record.value, now)

                for consumer in consumers:
                    workers.start(listen(consumer), pingpong)
                sender = producers[0]
                latencies = await pingpong.run(lambda data: sender.send_and_wait(topic, data))
    finally:
        for client in [*producers, *consumers]:
            with contextlib.suppress(Exception):
                await client.stop()
        await tracker.undo(created)
    return RoundResult(produce_seconds, consume_seconds, latencies, drain.duplicates)


async def _produce(producers: list[Any], topic: str, plan: Plan) -> float:
    """Batches through aiokafka's batch API, or (send="single") send_and_wait per message."""
    batches = [bodies(share, plan.size) for share in plan.shares()]

    async def produce(producer: Any, messages: list[bytes]) -> None:
        if plan.send == "single":
            for data in messages:
                await producer.send_and_wait(topic, data)
            return
        for i in range(0, len(messages), plan.batch):
            await send_batch(producer, topic, messages[i : i + plan.batch], plan.partitions)

    return await timed(
        asyncio.gather(*(produce(p, m) for p, m in zip(producers, batches, strict=True))),
        plan.phase_timeout,
        "producing",
    )


async def send_batch(producer: Any, topic: str, messages: list[bytes], partitions: int) -> None:
    """One closed record batch per partition (keyless: round robin), then await them all."""
    futures = []
    for partition in range(partitions):
        batch = producer.create_batch()
        for data in messages[partition::partitions]:
            if not batch.append(key=None, value=data, timestamp=None):
                batch.close()
                futures.append(await producer.send_batch(batch, topic, partition=partition))
                batch = producer.create_batch()
                batch.append(key=None, value=data, timestamp=None)
        if batch.record_count():
            batch.close()
            futures.append(await producer.send_batch(batch, topic, partition=partition))
    await asyncio.gather(*futures)


async def _assigned(consumers: list[Any], plan: Plan) -> None:
    """Wait until the group's rebalance settled: every partition has exactly one member."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + plan.phase_timeout
    busy = min(len(consumers), plan.partitions)
    while True:
        owned = [len(c.assignment()) for c in consumers]
        if sum(owned) == plan.partitions and sum(1 for n in owned if n) == busy:
            return
        if loop.time() > deadline:
            raise TimeoutError(f"kafka group never settled: partitions per member {owned}")
        await asyncio.sleep(0.05)


BASELINE = Baseline(
    client="aiokafka",
    distribution="aiokafka",
    description=(
        "aiokafka: idempotent producer, acks=all, create_batch/send_batch per partition; "
        "getmany(max_records=prefetch), auto-commit every 200 ms, fetch wait 100 ms"
    ),
    run_round=run_round,
)
