"""The Kafka baseline: the same workload through aiokafka directly (imported only here).

Producer with acks=all, each batch sent as futures and awaited together; group members
use getmany(max_records=prefetch) and commit after each batch; the topic is created and
deleted with AIOKafkaAdminClient.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import time
from typing import Any

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
from anymq.url import URL

CLIENT = "aiokafka"
DESCRIPTION = "aiokafka: acks=all, batch sent as futures then awaited, getmany + commit per batch"
POLL_MS = 100


def _lib(name: str) -> Any:
    """aiokafka has no type hints; import it here only, when Kafka is compared."""
    return importlib.import_module(name)


def connection(url: str) -> dict[str, Any]:
    """aiokafka keyword arguments for an anymq kafka:// or kafka+ssl:// URL."""
    parsed = URL.parse(url)
    servers = ",".join(f"{host}:{port or 9092}" for host, port in parsed.hosts) or "127.0.0.1:9092"
    options: dict[str, Any] = {"bootstrap_servers": servers}
    ssl = parsed.scheme.endswith("+ssl")
    if ssl:
        options["ssl_context"] = _lib("aiokafka.helpers").create_ssl_context()
    if parsed.username:
        options["security_protocol"] = "SASL_SSL" if ssl else "SASL_PLAINTEXT"
        options["sasl_mechanism"] = parsed.query.get("sasl_mechanism", "PLAIN")
        options["sasl_plain_username"] = parsed.username
        options["sasl_plain_password"] = parsed.password or ""
    elif ssl:
        options["security_protocol"] = "SSL"
    return options


async def delete_topic(url: str, topic: str) -> None:
    admin = _lib("aiokafka.admin").AIOKafkaAdminClient(**connection(url))
    await admin.start()
    try:
        await admin.delete_topics([topic])
    finally:
        await admin.close()


async def create_topic(url: str, topic: str, partitions: int) -> None:
    admin_module = _lib("aiokafka.admin")
    admin = admin_module.AIOKafkaAdminClient(**connection(url))
    await admin.start()
    try:
        response = await admin.create_topics([admin_module.NewTopic(topic, partitions, 1)])
        for _, code, *_ in response.topic_errors:
            if code not in (0, 36):  # 36: already exists
                raise RuntimeError(f"creating Kafka topic {topic} failed with error code {code}")
    finally:
        await admin.close()


async def run_round(url: str, plan: Plan, tracker: Tracker) -> RoundResult:
    aiokafka = _lib("aiokafka")
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
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_poll_records=plan.prefetch,
                **options,
            )
            consumers.append(consumer)
            await consumer.start()
        await _assigned(consumers, plan)
        for _ in range(plan.producers):
            producer = aiokafka.AIOKafkaProducer(acks="all", **options)
            producers.append(producer)
            await producer.start()
        batches = [bodies(share, plan.size) for share in plan.shares()]

        async def produce(producer: Any, messages: list[bytes]) -> None:
            for i in range(0, len(messages), plan.batch):
                futures = [
                    await producer.send(topic, data) for data in messages[i : i + plan.batch]
                ]
                await asyncio.gather(*futures)

        produce_seconds = await timed(
            asyncio.gather(*(produce(p, m) for p, m in zip(producers, batches, strict=True))),
            plan.phase_timeout,
            "producing",
        )

        drain = Drain(plan.count)
        async with Workers() as workers:

            async def member(consumer: Any) -> None:
                while not (workers.stopped or drain.done):
                    fetched = await consumer.getmany(timeout_ms=POLL_MS, max_records=plan.prefetch)
                    for records in fetched.values():
                        for record in records:
                            drain.mark(record.value)
                    if fetched:
                        await consumer.commit()

            for consumer in consumers:
                workers.start(member(consumer), drain)
            consume_seconds = await drain.timed(plan.phase_timeout)

        pingpong = PingPong(plan)
        async with Workers() as workers:

            async def listen(consumer: Any) -> None:
                while not workers.stopped:
                    fetched = await consumer.getmany(timeout_ms=POLL_MS, max_records=plan.prefetch)
                    now = time.perf_counter_ns()
                    for records in fetched.values():
                        for record in records:
                            pingpong.received(record.value, now)
                    if fetched:
                        await consumer.commit()

            for consumer in consumers:
                workers.start(listen(consumer), pingpong)
            sender = producers[0]
            await pingpong.run(lambda data: sender.send_and_wait(topic, data))
    finally:
        for client in [*producers, *consumers]:
            with contextlib.suppress(Exception):
                await client.stop()
        await tracker.undo(created)
    return RoundResult(produce_seconds, consume_seconds, pingpong.latencies_ns, drain.duplicates)


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
