"""A raw aiokafka producer and anymq group members agree on per-key order and placement."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaProducer

import anymq
from anymq.partitioners import key_partition

pytestmark = [pytest.mark.kafka, pytest.mark.anymq]


async def test_raw_producer_and_anymq_consumers_agree_on_key_order(kafka_url: str) -> None:
    keys, per_key, partitions = 16, 40, 4
    topic = f"anymq-kafka-order-{uuid.uuid4().hex[:8]}"
    group = f"order-{uuid.uuid4().hex[:8]}"
    seen: dict[bytes, list[int]] = defaultdict(list)
    total = keys * per_key
    async with anymq.connect(kafka_url) as broker:
        await broker.create_topic(topic, partitions=partitions)
        try:
            members = [broker.consumer(topic, group, prefetch=50) for _ in range(2)]
            for member in members:
                await member.start()
            raw = AIOKafkaProducer(
                bootstrap_servers=[f"{h}:{p}" for h, p in anymq.URL.parse(kafka_url).hosts],
                acks="all",
                enable_idempotence=True,
                linger_ms=5,
            )
            await raw.start()
            try:
                futures = [
                    await raw.send(topic, b"%d" % seq, key=b"key-%d" % k)
                    for seq in range(per_key)
                    for k in range(keys)
                ]
                await asyncio.gather(*futures)
            finally:
                await raw.stop()
            received = 0
            per_member = [0, 0]

            async def drain(index: int, consumer: anymq.Consumer) -> None:
                nonlocal received
                while received < total:
                    for msg in await consumer.receive(max_messages=50, timeout=0.5):
                        key = msg.key or b""
                        assert msg.partition == key_partition(key, partitions)
                        seen[key].append(int(msg.value))
                        received += 1
                        per_member[index] += 1
                        await msg.ack()

            await asyncio.wait_for(
                asyncio.gather(*(drain(i, c) for i, c in enumerate(members))), 60
            )
            for member in members:
                await member.close()
        finally:
            await broker.delete_topic(topic)
    assert len(seen) == keys
    violations = sum(1 for order in seen.values() for a, b in itertools.pairwise(order) if b < a)
    assert violations == 0
    for key, order in seen.items():
        assert order == list(range(per_key)), f"{key!r}: {order}"
    assert all(per_member), f"both members should have had partitions: {per_member}"
