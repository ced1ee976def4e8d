"""End-to-end smoke check of a broker started by compose/kafka.sh, with aiokafka.

    python3 compose/kafka/smoke.py single            # against `kafka.sh start single`
    python3 compose/kafka/smoke.py cluster           # against `kafka.sh start cluster`
    python3 compose/kafka/smoke.py cluster --fault   # also stop-node 2 / start-node 2
                                                     # while an acks=all producer runs

Exercises: admin create/describe/list/delete topics (with topic configs),
describe configs, an idempotent acks=all producer, a consumer group that
commits, list/describe consumer groups and their offsets, delete records.
Exits non-zero on the first failure. Not part of the anymq package.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic, RecordsToDelete
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaConnectionError, NodeNotReadyError

KAFKA_SH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "kafka.sh")
BOOTSTRAP = {"single": "127.0.0.1:9092", "cluster": "127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094"}


def step(msg: str) -> None:
    print(f"smoke: {msg}", flush=True)


def error_codes(obj, path="") -> list[tuple[str, int]]:
    """All non-zero error_code fields in a response's to_object() tree."""
    found = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "error_code" and v:
                found.append((path, v))
            else:
                found.extend(error_codes(v, f"{path}/{k}"))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            found.extend(error_codes(v, f"{path}[{i}]"))
    return found


def check(resp, what: str) -> None:
    errs = error_codes(resp.to_object())
    if errs:
        raise SystemExit(f"smoke: FAILED {what}: error codes {errs}")


async def retry(call, what: str, attempts: int = 20):
    """aiokafka's admin client does not retry a request to a broker whose
    connection dropped (e.g. after stop-node/start-node): NodeNotReadyError.
    Callers (and anymq) must retry such calls."""
    for i in range(attempts):
        try:
            return await call()
        except (NodeNotReadyError, KafkaConnectionError) as exc:
            if i == attempts - 1:
                raise
            step(f"{what}: {type(exc).__name__}, retrying")
            await asyncio.sleep(0.5)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["single", "cluster"])
    ap.add_argument("--fault", action="store_true", help="cluster only: stop/start node 2 while producing")
    ap.add_argument("--messages", type=int, default=300)
    args = ap.parse_args()
    bootstrap = BOOTSTRAP[args.mode]
    rf, min_isr = (1, 1) if args.mode == "single" else (3, 2)
    topic = f"smoke-{uuid.uuid4().hex[:8]}"
    group = f"smoke-group-{uuid.uuid4().hex[:8]}"
    t_start = time.monotonic()

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000)
    await admin.start()
    try:
        step(f"cluster: {await admin.describe_cluster()}")
        resp = await admin.create_topics(
            [
                NewTopic(
                    topic,
                    num_partitions=3,
                    replication_factor=rf,
                    topic_configs={
                        "retention.ms": "600000",
                        "segment.bytes": str(1024 * 1024),
                        "min.insync.replicas": str(min_isr),
                    },
                )
            ]
        )
        check(resp, "create_topics")
        step(f"created topic {topic} (3 partitions, rf={rf}, min.insync.replicas={min_isr})")

        # Metadata may lag the controller by a moment.
        for _ in range(50):
            desc = await admin.describe_topics([topic])
            if desc and desc[0]["error_code"] == 0 and len(desc[0]["partitions"]) == 3:
                break
            await asyncio.sleep(0.1)
        assert desc[0]["error_code"] == 0 and len(desc[0]["partitions"]) == 3, desc
        for p in desc[0]["partitions"]:
            assert len(p["replicas"]) == rf, p
        step(f"describe_topics ok: {[(p['partition'], p['leader'], p['replicas'], p['isr']) for p in desc[0]['partitions']]}")
        assert topic in await admin.list_topics()

        # Right after create, the broker asked may not know the topic yet (error 3).
        for _ in range(100):
            cfgs = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
            if not any(error_codes(r.to_object()) for r in cfgs):
                break
            await asyncio.sleep(0.1)
        for r in cfgs:
            check(r, "describe_configs")
        entries = {e[0]: e[1] for res in cfgs[0].to_object()["resources"] for e in [
            (c["config_names"], c["config_value"]) for c in res["config_entries"]]}
        assert entries.get("retention.ms") == "600000", entries.get("retention.ms")
        assert entries.get("segment.bytes") == str(1024 * 1024), entries.get("segment.bytes")
        assert entries.get("min.insync.replicas") == str(min_isr), entries.get("min.insync.replicas")
        step("describe_configs ok: retention.ms, segment.bytes, min.insync.replicas as set")

        # Produce with acks=all + idempotence.
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
            request_timeout_ms=30000, linger_ms=5,
        )
        await producer.start()
        acked: set[bytes] = set()
        fault_proc = None
        try:
            n = args.messages
            for i in range(n):
                value = f"m-{i}".encode()
                if args.fault and i == n // 4:
                    step("fault: compose/kafka.sh stop-node 2 (producer keeps sending)")
                    fault_proc = subprocess.run([KAFKA_SH, "stop-node", "2"], check=True)
                if args.fault and i == n // 2:
                    step("fault: compose/kafka.sh start-node 2 (producer keeps sending)")
                    subprocess.run([KAFKA_SH, "start-node", "2"], check=True)
                md = await producer.send_and_wait(topic, value, key=f"k{i % 7}".encode())
                acked.add(value)
                if args.fault and n // 4 <= i < n // 2:
                    await asyncio.sleep(0.01)  # spread sends over the outage
            step(f"produced {len(acked)} messages (acks=all, idempotent); last at partition {md.partition} offset {md.offset}")
        finally:
            await producer.stop()
        _ = fault_proc

        # Consume with a group, commit.
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
            enable_auto_commit=False, session_timeout_ms=10000, heartbeat_interval_ms=1000,
        )
        await consumer.start()
        got: list[bytes] = []
        try:
            deadline = time.monotonic() + 60
            while len(got) < len(acked) and time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=1000)
                for _tp, msgs in batches.items():
                    got.extend(m.value for m in msgs)
            await consumer.commit()
            end = await consumer.end_offsets([TopicPartition(topic, p) for p in range(3)])
        finally:
            await consumer.stop()
        missing = acked - set(got)
        dups = len(got) - len(set(got))
        assert not missing, f"{len(missing)} acked messages not read back, e.g. {sorted(missing)[:5]}"
        assert dups == 0, f"{dups} duplicates read back"
        step(f"consumed all {len(got)} acked messages with group {group}, no duplicates; committed")

        offsets = await retry(lambda: admin.list_consumer_group_offsets(group), "list_consumer_group_offsets")
        committed = {tp.partition: om.offset for tp, om in offsets.items() if tp.topic == topic}
        assert committed == {tp.partition: off for tp, off in end.items()}, (committed, end)
        assert sum(committed.values()) == len(acked), (committed, len(acked))
        step(f"list_consumer_group_offsets ok: {committed}")
        groups = await retry(admin.list_consumer_groups, "list_consumer_groups")
        assert any(g[0] == group for g in groups), groups
        dgroups = await retry(lambda: admin.describe_consumer_groups([group]), "describe_consumer_groups")
        for r in dgroups:
            check(r, "describe_consumer_groups")
        step("list_consumer_groups / describe_consumer_groups ok")

        low = await retry(lambda: admin.delete_records({TopicPartition(topic, 0): RecordsToDelete(before_offset=1)}), "delete_records")
        assert low == {TopicPartition(topic, 0): 1}, low
        step("delete_records ok")

        t_del = time.monotonic()
        resp = await admin.delete_topics([topic])
        check(resp, "delete_topics")
        step(f"delete_topics answered in {time.monotonic() - t_del:.1f}s: {resp.to_object()}")
        while topic in await retry(admin.list_topics, "list_topics") and time.monotonic() - t_del < 30:
            await asyncio.sleep(0.2)
        assert topic not in await admin.list_topics(), f"{topic} still listed 30s after delete_topics"
        step(f"deleted topic {topic} (gone from metadata after {time.monotonic() - t_del:.1f}s)")
    finally:
        await admin.close()
    step(f"OK ({args.mode}{' + fault' if args.fault else ''}) in {time.monotonic() - t_start:.1f}s")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
