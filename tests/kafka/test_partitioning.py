"""Key placement on a real Kafka topic equals the Java client's (murmur2), for anymq and raw
aiokafka producers alike; round robin ignores keys."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

import anymq
from anymq.partitioners import key_partition, murmur2

pytestmark = [pytest.mark.kafka, pytest.mark.anymq]

ROOT = Path(__file__).resolve().parents[2]
JARS = ROOT / ".cache" / "kafka" / "lib"

# Kafka's own vectors (clients UtilsTest.testMurmur2), re-checked against
# org.apache.kafka.common.utils.Utils.murmur2 of kafka-clients 4.3.1, plus two keys of ours.
JAVA_MURMUR2 = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"abc": 479470107,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"": 275646681,
    b"user-1": 1404122828,
    "ключ".encode(): 2122343024,
}


def test_murmur2_matches_kafka_test_vectors() -> None:
    for key, expected in JAVA_MURMUR2.items():
        assert murmur2(key) == expected, key


async def test_keys_land_where_java_puts_them(kafka_url: str) -> None:
    partitions = 6
    rng = random.Random(7)
    keys = list(JAVA_MURMUR2) + [
        bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40))) for _ in range(150)
    ]
    async with anymq.connect(kafka_url) as broker:
        topic = f"anymq-kafka-keys-{os.getpid()}-{rng.randrange(1 << 30)}"
        await broker.create_topic(topic, partitions=partitions)
        try:
            placed: dict[bytes, int | None] = {}
            async with broker.consumer(topic, "keys-check") as consumer:
                async with broker.producer() as producer:
                    for key in keys:
                        receipt = await producer.send(topic, key, key=key)
                        placed[key] = receipt.partition
                raw = AIOKafkaProducer(bootstrap_servers=_bootstrap(kafka_url))
                await raw.start()
                try:
                    raw_placed = {
                        key: (await raw.send_and_wait(topic, key, key=key)).partition
                        for key in keys
                    }
                finally:
                    await raw.stop()
                got = []
                while len(got) < 2 * len(keys):
                    batch = await consumer.receive(500, timeout=10)
                    assert batch, f"only {len(got)} of {2 * len(keys)} messages arrived"
                    for msg in batch:
                        await msg.ack()
                    got += batch
        finally:
            await broker.delete_topic(topic)
    for key in keys:
        expected = key_partition(key, partitions)
        assert placed[key] == expected, f"anymq put {key!r} on {placed[key]}, Java on {expected}"
        assert raw_placed[key] == expected, f"aiokafka put {key!r} elsewhere"
    for msg in got:
        assert msg.partition == key_partition(msg.key or b"", partitions)
    spread = Counter(placed.values())
    assert len(spread) == partitions, f"keys did not reach every partition: {spread}"


def test_java_partitioner_agrees_on_random_keys() -> None:
    """Ask the Java client itself (kafka-clients from compose/kafka.sh's jars) where keys go."""
    assert shutil.which("java"), "this test needs java (the Kafka broker scripts need it too)"
    if not any(JARS.glob("kafka-clients-*.jar")):  # e.g. when ANYMQ_KAFKA_URL names your own
        subprocess.run(["bash", str(ROOT / "compose" / "kafka.sh"), "fetch"], check=True)
    rng = random.Random(11)
    keys = [f"k{i}-{rng.randrange(1 << 40):x}" for i in range(200)]
    source = Path(__file__).with_name("JavaPartition.java")
    out = subprocess.run(
        ["java", "-cp", f"{JARS}/*", str(source), "7", *keys],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.split()
    java = dict(zip(keys, map(int, out), strict=True))
    for key in keys:
        assert key_partition(key.encode(), 7) == java[key], key


async def test_round_robin_ignores_keys(kafka_url: str) -> None:
    async with anymq.connect(kafka_url) as broker:
        topic = f"anymq-kafka-rr-{os.getpid()}-{random.randrange(1 << 30)}"
        await broker.create_topic(topic, partitions=3)
        try:
            async with broker.producer(partitioner="round_robin") as producer:
                receipts = await producer.send_batch(
                    topic, [anymq.Message(b"v", key=b"same") for _ in range(300)]
                )
        finally:
            await broker.delete_topic(topic)
    assert Counter(r.partition for r in receipts) == {0: 100, 1: 100, 2: 100}


def _bootstrap(url: str) -> list[str]:
    parsed = anymq.URL.parse(url)
    return [f"{h}:{p or 9092}" for h, p in parsed.hosts]
