"""Fault test on a three-broker cluster (replication factor 3, min.insync.replicas 2): while
an acks=all producer sends, one broker (the leader of partition 0) is stopped and brought
back; a consumer group then reads every acknowledged message back. Lost must be 0;
duplicates are reported (the idempotent producer should make them 0).

The cluster and the single test broker share ports (see compose/kafka.sh), so this module
stops the single broker, runs the cluster, and restores the single broker afterwards if it
was running."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import anymq
from anymq.testing.ledger import Ledger

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.anymq]

SCRIPT = Path(__file__).resolve().parents[2] / "compose" / "kafka.sh"
CLUSTER_URL = "kafka://127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094"


def _script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, check=False, timeout=240
    )


@pytest.fixture(scope="module")
def kafka_cluster() -> Iterator[str]:
    status = _script("status").stdout
    single_was_running = "single/kafka: running" in status
    if single_was_running:
        done = _script("stop", "single")
        assert done.returncode == 0, done.stderr
    started = _script("start", "cluster")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        yield CLUSTER_URL
    finally:
        _script("stop", "cluster")
        if single_was_running:
            again = _script("start", "single")
            assert again.returncode == 0, again.stdout + again.stderr


async def _node(command: str, node: int) -> float:
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        "bash",
        str(SCRIPT),
        command,
        str(node),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode()
    return time.monotonic() - started


async def _create_replicated(broker: anymq.Broker, topic: str) -> None:
    """rf=3, min.insync.replicas=2; right after the cluster starts, a broker may still be
    registering with the quorum (InvalidReplicationFactor for a moment)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            await broker.create_topic(
                topic, partitions=3, replication_factor=3, configs={"min.insync.replicas": "2"}
            )
            return
        except anymq.ConfigError as exc:
            if "InvalidReplicationFactor" not in str(exc) or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def test_a_new_topic_is_known_to_every_broker(kafka_cluster: str) -> None:
    """create_topic returns once every broker knows the topic: the next call may go to any
    of them (one CI run failed describe_topic right after create_topic with TopicNotFound)."""
    async with anymq.connect(kafka_cluster) as broker:
        admin = broker.driver.admin  # type: ignore[attr-defined]
        topics = [f"anymq-kafka-known-{uuid.uuid4().hex[:8]}" for _ in range(5)]
        try:
            for topic in topics:
                await _create_replicated(broker, topic)
                nodes = sorted(b.nodeId for b in admin.client._client.cluster.brokers())
                assert len(nodes) == 3
                for node in nodes:
                    [meta] = (await admin._metadata([topic], node))["topics"]
                    assert meta["error_code"] == 0, f"broker {node} does not know {topic} yet"
        finally:
            for topic in topics:
                with contextlib.suppress(anymq.TopicNotFound):
                    await broker.delete_topic(topic)


async def test_stopping_a_broker_loses_no_acknowledged_message(kafka_cluster: str) -> None:
    topic = f"anymq-kafka-fault-{uuid.uuid4().hex[:8]}"
    ledger = Ledger()
    acked: list[bytes] = []
    ack_times: list[float] = []
    failures: list[str] = []
    stop_sending = asyncio.Event()
    async with anymq.connect(kafka_cluster) as broker:
        await _create_replicated(broker, topic)
        info = await broker.describe_topic(topic)
        assert info.details["replication_factor"] == 3
        victim = info.details["leaders"][0]

        async def produce() -> None:
            async with broker.producer(linger=0.002) as producer:
                n = 0
                while not stop_sending.is_set():
                    batch = [
                        anymq.Message(ledger.expect(b"m%07d" % (n + j)), key=b"k%d" % (n + j))
                        for j in range(20)
                    ]
                    n += len(batch)
                    try:
                        await producer.send_batch(topic, batch)
                    except (anymq.PublishError, anymq.BrokerUnavailable) as exc:
                        failures.append(type(exc).__name__)
                        continue
                    acked.extend(m.value for m in batch)
                    ack_times.append(time.monotonic())

        async def acked_grows(by: int, within: float) -> None:
            target = len(acked) + by
            deadline = time.monotonic() + within
            while len(acked) < target:
                assert time.monotonic() < deadline, f"writes stalled at {len(acked)} acked"
                await asyncio.sleep(0.05)

        sender = asyncio.get_running_loop().create_task(produce())
        try:
            await acked_grows(1000, 30)
            stop_took = await _node("stop-node", victim)
            await acked_grows(1000, 60)  # 2 of 3 replicas in sync: acks=all still succeeds
            start_took = await _node("start-node", victim)
            await acked_grows(1000, 60)
        finally:
            stop_sending.set()
            await sender
        after = await broker.describe_topic(topic)

        group = f"fault-{uuid.uuid4().hex[:8]}"
        wanted = set(acked)
        async with broker.consumer(topic, group, start="earliest") as consumer:
            deadline = time.monotonic() + 60
            while not wanted <= set(ledger.received) and time.monotonic() < deadline:
                for msg in await consumer.receive(1000, timeout=1):
                    ledger.record(msg.value)
                    await msg.ack()
        await broker.delete_topic(topic)
    gaps = [b - a for a, b in itertools.pairwise(ack_times)]
    lost = wanted - set(ledger.received)
    print(
        f"\ncluster fault: stopped broker {victim} ({stop_took:.1f}s) and restarted it "
        f"({start_took:.1f}s); acked {len(acked)} of {len(ledger.sent)} sent, "
        f"{len(failures)} failed batches {sorted(set(failures))}, longest write pause "
        f"{max(gaps):.2f}s; read back: lost {len(lost)}, duplicates {ledger.duplicates}, "
        f"unacked but stored {len(set(ledger.received) - wanted)}; leaders after: "
        f"{after.details['leaders']}, isr {after.details['isr']}"
    )
    assert not lost, f"{len(lost)} acknowledged messages lost, e.g. {sorted(lost)[:5]}"
    assert not set(ledger.received) - set(ledger.sent)
