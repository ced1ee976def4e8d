"""Partitioned topics on SQS: SNS FIFO topics whose partition is the MessageGroupId.

Run against a moto_server of the module's own that holds a FIFO message group while one of
its messages is in flight, as AWS does (``aws_like``; the shared moto 5.2 does not, see
compose/moto_fifo.py), or against AWS itself when ANYMQ_SQS_URL points there.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest

import anymq
from anymq.partitioners import key_partition
from anymq_sqs import naming
from tests.failover import KilledMember
from tests.sqs.helpers import aws_like, unique, with_options

pytestmark = [pytest.mark.sqs, pytest.mark.anymq]

KINDS = ["standard", "fifo"]


@pytest.fixture(scope="module")
def aws_url(sqs_url: str) -> Iterator[str]:
    with aws_like(sqs_url) as url:
        yield url


def _url(base: str, kind: str) -> str:
    return with_options(base, fifo=True) if kind == "fifo" else base


async def test_emulator_holds_a_group_for_a_running_long_poll(aws_url: str) -> None:
    """AWS's FIFO rule, which the suite relies on: while member A holds m1, a long poll
    member B began before A took it gets nothing of m1's group (m2). The shared moto 5.2
    hands m2 to B (its long poll decided what was in flight when it started)."""
    broker = anymq.connect(aws_url)
    async with broker, broker.driver.client("sqs") as sqs:  # type: ignore[attr-defined]
        url = (
            await sqs.create_queue(
                QueueName=unique("hold") + ".fifo",
                Attributes={"FifoQueue": "true", "DelaySeconds": "1"},  # m1 visible 1 s later
            )
        )["QueueUrl"]
        try:

            def send(body: str) -> Any:
                return sqs.send_message(
                    QueueUrl=url,
                    MessageBody=body,
                    MessageGroupId="g",
                    MessageDeduplicationId=uuid.uuid4().hex,
                )

            poll_b = asyncio.ensure_future(
                sqs.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=6, VisibilityTimeout=30
                )
            )
            await asyncio.sleep(0.3)  # B's long poll is waiting, nothing is in flight
            await send("m1")
            held: list[dict[str, Any]] = []
            deadline = time.monotonic() + 5
            while not held and not poll_b.done() and time.monotonic() < deadline:
                response = await sqs.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=30
                )
                held = response.get("Messages") or []
                await asyncio.sleep(0.02)
            if not held:
                pytest.skip("B's long poll took m1 first: nothing to hold (a race, not a bug)")
            await send("m2")  # A holds m1: its group is in flight
            got = (await poll_b).get("Messages") or []
            assert [m["Body"] for m in got] == [], "a held message group was handed to B"
        finally:
            await sqs.delete_queue(QueueUrl=url)


@pytest.mark.parametrize("kind", KINDS)
async def test_key_order_with_two_members_consuming_in_parallel(aws_url: str, kind: str) -> None:
    """Two members of one group drain a 4-partition topic at once: each key in order,
    nothing lost, msg.partition as Kafka's Java client would place the key, both members
    at work, and never one partition in the hands of both members at the same time."""
    partitions, per_key = 4, 12
    names = _spread_keys(partitions, per_partition=2)
    keys = len(names)
    async with anymq.connect(_url(aws_url, kind)) as broker:
        topic = unique("par")
        await broker.create_topic(topic, partitions=partitions)
        try:
            members = [broker.consumer(topic, "g", prefetch=5) for _ in range(2)]
            for member in members:
                await member.start()
            seen: dict[bytes, list[int]] = defaultdict(list)
            # partition -> (member, received at, acked at) for every message
            spans: dict[int | None, list[tuple[int, float, float]]] = defaultdict(list)
            by_member = [0, 0]
            total = keys * per_key

            async def drain(index: int, member: anymq.Consumer) -> None:
                while sum(by_member) < total:
                    batch = await member.receive(max_messages=5, timeout=0.2)
                    got_at = time.monotonic()
                    for msg in batch:
                        key = msg.key or b""
                        assert msg.partition == key_partition(key, partitions)
                        seen[key].append(int(msg.value.split(b":")[1]))
                        by_member[index] += 1
                        await asyncio.sleep(0.005)  # some work per message
                        await msg.ack()
                        spans[msg.partition].append((index, got_at, time.monotonic()))

            draining = asyncio.gather(*(drain(i, m) for i, m in enumerate(members)))
            async with broker.producer() as producer:
                for seq in range(per_key):
                    for k in range(keys):
                        key = names[k]
                        receipt = await producer.send(topic, b"%d:%d" % (k, seq), key=key)
                        assert receipt.partition == key_partition(key, partitions)
            await asyncio.wait_for(draining, 60)
            for member in members:
                await member.close()
        finally:
            await broker.delete_topic(topic)
    assert sorted(seen) == names
    for key, order in seen.items():
        assert order == list(range(per_key)), f"{key!r}: {order}"
    assert all(by_member), f"one member did all the work: {by_member}"
    for partition, held in spans.items():
        for a_member, a_from, a_to in held:
            for b_member, b_from, b_to in held:
                overlap = a_member != b_member and a_from < b_to and b_from < a_to
                assert not overlap, f"partition {partition} held by both members at once"


def _spread_keys(partitions: int, per_partition: int) -> list[bytes]:
    """Keys that put ``per_partition`` keys on every partition (murmur2, as Kafka)."""
    found: dict[int, list[bytes]] = defaultdict(list)
    for i in range(1000):
        key = b"k%d" % i
        placed = found[key_partition(key, partitions)]
        if len(placed) < per_partition:
            placed.append(key)
    return sorted(k for keys in found.values() for k in keys)


# The member that gets killed: acks the first two messages of each key, then holds every
# message it gets (its heartbeat keeps them invisible), reporting both on stdout.
CHILD = r"""
import asyncio, sys
import anymq

async def main(url, topic, group, visibility):
    async with anymq.connect(url) as broker:
        consumer = broker.consumer(topic, group, prefetch=10, visibility_timeout=visibility)
        async with consumer:
            print("ready", flush=True)
            async for msg in consumer:
                if int(msg.value.split(b":")[1]) < 2:
                    await msg.ack()
                    print("ack", msg.value.decode(), flush=True)
                else:
                    print("held", msg.value.decode(), flush=True)

asyncio.run(main(*sys.argv[1:5]))
"""


@pytest.mark.parametrize("kind", KINDS)
async def test_sigkilled_member_messages_come_back_in_key_order(aws_url: str, kind: str) -> None:
    """A member (another OS process) holds messages of its partitions and is SIGKILLed:
    after the visibility timeout the survivor gets them, each key continuing in order from
    where the dead member stopped, nothing lost."""
    visibility, per_key, partitions = 2, 6, 4
    names = _spread_keys(partitions, per_partition=2)
    keys = len(names)
    url = _url(aws_url, kind)
    async with anymq.connect(url) as broker:
        topic = unique("kill")
        await broker.create_topic(topic, partitions=partitions)
        try:
            async with KilledMember(CHILD, url, topic, "g", str(visibility)) as child:
                await child.ready()
                async with broker.producer() as producer:
                    for seq in range(per_key):
                        for k in range(keys):
                            await producer.send(topic, b"%s:%d" % (names[k], seq), key=names[k])
                # it holds the first message it gets of a partition with seq >= 2, and then
                # gets nothing more of that partition: at least two partitions are held
                assert await child.reported("held", 2, timeout=30), "the child held nothing"
                survivor = broker.consumer(topic, "g", prefetch=10, visibility_timeout=visibility)
                async with survivor:
                    got: list[anymq.Received] = []
                    await asyncio.sleep(1.5 * visibility)  # the live child's heartbeat holds
                    got += await survivor.receive(10, timeout=0.5)
                    for msg in got:
                        await msg.ack()
                    early = {m.value for m in got} & set(child.held)
                    assert not early, f"held by the live child, yet delivered: {early}"
                    killed_at = await child.kill()
                    deadline = time.monotonic() + 30
                    while time.monotonic() < deadline:
                        batch = await survivor.receive(10, timeout=1)
                        for msg in batch:
                            got.append(msg)
                            await msg.ack()
                        values = {m.value for m in got} | set(child.acked)
                        if len(values) == keys * per_key and not batch:
                            break
                    back_after = time.monotonic() - killed_at
        finally:
            await broker.delete_topic(topic)
    acked = set(child.acked)
    sent = {b"%s:%d" % (names[k], seq) for k in range(keys) for seq in range(per_key)}
    assert acked | {m.value for m in got} == sent, "messages were lost"
    assert set(child.held) <= {m.value for m in got}, "held messages did not come back"
    for k in range(keys):
        seqs = [int(m.value.split(b":")[1]) for m in got if m.key == names[k]]
        assert seqs == sorted(seqs), f"k{k} out of order at the survivor: {seqs}"
        done = {int(v.split(b":")[1]) for v in acked if v.startswith(names[k] + b":")}
        assert set(seqs) | done == set(range(per_key)), f"k{k}: a gap"
    assert back_after < 30


@pytest.mark.parametrize("kind", KINDS)
async def test_partitioned_topic_is_fifo_with_plain_names(aws_url: str, kind: str) -> None:
    """The SNS topic behind a partitioned topic is '<name>.fifo', tagged with its partition
    count; list_topics, describe_topic and another connection (a fresh lookup) all speak of
    '<name>'; delete_topic removes the topic, its FIFO group queues and subscriptions."""
    url = _url(aws_url, kind)
    async with anymq.connect(url) as broker:
        topic = unique("names")
        assert await broker.create_topic(topic, partitions=3)
        assert not await broker.create_topic(topic, partitions=3)
        topology = broker.driver.topology  # type: ignore[attr-defined]
        sns = topology.sns
        try:
            arn = topology.topic_arn(topic + ".fifo")
            attrs = (await sns.get_topic_attributes(TopicArn=arn))["Attributes"]
            assert attrs["FifoTopic"] == "true"
            listed = await broker.list_topics()
            assert topic in listed
            assert topic + ".fifo" not in listed
            info = await broker.describe_topic(topic)
            assert (info.name, info.partitions, info.details["fifo"]) == (topic, 3, True)
            async with broker.consumer(topic, "a"), broker.consumer(topic, "b"):
                pass
            prefix = naming.queue_prefix(topic + ".fifo")
            queues = await topology._list_queues(prefix)
            assert len(queues) == 2
            assert all(q.endswith(".fifo") for q in queues)
            async with anymq.connect(_url(aws_url, "standard")) as other:  # its own lookup
                async with other.producer() as producer:
                    receipt = await producer.send(topic, b"x", key=b"user-1")
                assert receipt.partition == key_partition(b"user-1", 3)
                assert (await other.describe_group(topic, "a")).backlog == 1
                assert (await other.describe_topic(topic)).partitions == 3
        finally:
            await broker.delete_topic(topic)
        assert topic not in await broker.list_topics()
        assert await topology._list_queues(prefix) == []
        subs = (await sns.list_subscriptions())["Subscriptions"]
        assert not [s for s in subs if s["TopicArn"].endswith(":" + topic + ".fifo")]


async def test_one_partition_standard_url_stays_standard(aws_url: str) -> None:
    async with anymq.connect(aws_url) as broker:
        topic = unique("std")
        await broker.create_topic(topic)
        try:
            info = await broker.describe_topic(topic)
            assert (info.partitions, info.details["fifo"]) == (1, False)
            assert info.details["topic_arn"].endswith(":" + topic)
            async with broker.consumer(topic, "g") as consumer, broker.producer() as producer:
                receipt = await producer.send(topic, b"later", delay=1)  # standard: delays
                assert receipt.partition == 0
                [msg] = await consumer.receive(1, timeout=10)
                assert (msg.value, msg.partition) == (b"later", 0)
                await msg.ack()
        finally:
            await broker.delete_topic(topic)


async def test_kind_clashes_are_clear_errors(aws_url: str) -> None:
    """A standard topic cannot become FIFO (nor be used from ?fifo=true); a raw '<name>.fifo'
    next to a standard '<name>' makes the name ambiguous, which delete_topic resolves."""
    async with (
        anymq.connect(aws_url) as standard,
        anymq.connect(_url(aws_url, "fifo")) as fifo,
    ):
        topic = unique("clash")
        await standard.create_topic(topic)
        try:
            with pytest.raises(anymq.ConfigError, match="cannot become a FIFO topic"):
                await standard.create_topic(topic, partitions=2)
            with pytest.raises(anymq.ConfigError, match="cannot become a FIFO topic"):
                await fifo.create_topic(topic)
            async with fifo.producer() as producer:
                with pytest.raises(anymq.ConfigError, match="promises key order"):
                    await producer.send(topic, b"x", key=b"k")
            with pytest.raises(anymq.ConfigError, match="promises key order"):
                async with fifo.consumer(topic, "g"):
                    pass
            sns = standard.driver.topology.sns  # type: ignore[attr-defined]
            await sns.create_topic(Name=topic + ".fifo", Attributes={"FifoTopic": "true"})
            async with anymq.connect(aws_url) as fresh:
                with pytest.raises(anymq.ConfigError, match="ambiguous"):
                    await fresh.describe_topic(topic)
        finally:
            await standard.delete_topic(topic)  # both of them
        assert topic not in await standard.list_topics()
        with pytest.raises(anymq.TopicNotFound):
            await standard.describe_topic(topic)


@pytest.mark.parametrize("kind", KINDS)
async def test_chosen_partition_is_honoured_and_checked_before_sending(
    aws_url: str, kind: str
) -> None:
    async with anymq.connect(_url(aws_url, kind)) as broker:
        topic = unique("pick")
        await broker.create_topic(topic, partitions=3)
        try:
            async with broker.consumer(topic, "g") as consumer, broker.producer() as producer:
                with pytest.raises(anymq.ConfigError, match="partition 3 does not exist"):
                    await producer.send_batch(
                        topic,
                        [anymq.Message(b"ok", partition=0), anymq.Message(b"no", partition=3)],
                    )
                assert (await broker.describe_group(topic, "g")).backlog == 0, "half sent"
                receipt = await producer.send(topic, b"there", key=b"k", partition=2)
                assert receipt.partition == 2
                [msg] = await consumer.receive(1, timeout=10)
                assert (msg.value, msg.partition) == (b"there", 2)
                await msg.ack()
        finally:
            await broker.delete_topic(topic)


async def test_queue_mode_partitioned_topic_is_one_fifo_queue(aws_url: str) -> None:
    """mode=queue: a partitioned topic is the FIFO queue '<name>.fifo'; its dead-letter
    topic is FIFO too (SQS redrives only within one queue type)."""
    async with anymq.connect(with_options(aws_url, mode="queue")) as broker:
        topic = unique("qpart")
        await broker.create_topic(topic, partitions=3)
        dlt = broker.driver.dead_letter_topic(topic, "g")
        try:
            info = await broker.describe_topic(topic)
            assert (info.partitions, info.details["fifo"]) == (3, True)
            assert info.details["queue_url"].endswith("/" + topic + ".fifo")
            assert topic in await broker.list_topics()
            async with broker.producer() as producer:
                receipts = await producer.send_batch(
                    topic, [anymq.Message(b"v%d" % i, key=b"k%d" % i) for i in range(6)]
                )
            async with broker.consumer(topic, "g", max_deliveries=2) as consumer:
                got: list[anymq.Received] = []
                deadline = time.monotonic() + 10
                while len(got) < 6 and time.monotonic() < deadline:
                    got += await consumer.receive(10, timeout=1)
                for msg in got:
                    await msg.ack()
            assert sorted((m.value, m.partition) for m in got) == sorted(
                (b"v%d" % i, r.partition) for i, r in enumerate(receipts)
            )
            assert (await broker.describe_topic(dlt)).details["fifo"] is True
        finally:
            await broker.delete_topic(topic)
            await broker.delete_topic(dlt)
