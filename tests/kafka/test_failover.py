"""Consumer failover with a real crash: a member in another OS process is killed with
SIGKILL mid-stream; the surviving member must receive everything the killed one had not
acked. Also measures the handover after a clean close (LeaveGroup)."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

import anymq
from anymq.testing.ledger import Ledger
from tests.failover import KilledMember, wait_received

pytestmark = [pytest.mark.kafka, pytest.mark.anymq]

# The member that gets killed: acks slowly and reports every ack on stdout (after the ack).
CHILD = r"""
import asyncio, sys
import anymq

async def main(url, topic, group):
    async with anymq.connect(url) as broker:
        consumer = broker.consumer(topic, group, prefetch=20, session_timeout_ms=6000)
        async with consumer:
            print("ready", flush=True)
            async for msg in consumer:
                await asyncio.sleep(0.01)
                await msg.ack()
                print("ack", msg.value.decode(), flush=True)

asyncio.run(main(*sys.argv[1:4]))
"""


async def _drain(consumer: anymq.Consumer, ledger: Ledger, stop: asyncio.Event) -> None:
    while not stop.is_set():
        for msg in await consumer.receive(max_messages=100, timeout=0.2):
            ledger.record(msg.value)
            await msg.ack()


@pytest.mark.slow
async def test_sigkilled_member_loses_nothing(kafka_url: str) -> None:
    count = 600
    topic = f"anymq-kafka-kill-{uuid.uuid4().hex[:8]}"
    group = f"kill-{uuid.uuid4().hex[:8]}"
    ledger = Ledger()
    async with anymq.connect(kafka_url) as broker:
        await broker.create_topic(topic, partitions=4)
        try:
            survivor = broker.consumer(topic, group, prefetch=100, session_timeout_ms=6000)
            await survivor.start()
            async with KilledMember(CHILD, kafka_url, topic, group) as child:
                await child.ready()
                async with broker.producer() as producer:
                    await producer.send_batch(
                        topic,
                        [
                            anymq.Message(ledger.expect(b"m%04d" % i), key=b"k%d" % i)
                            for i in range(count)
                        ],
                    )
                stop = asyncio.Event()
                draining = asyncio.get_running_loop().create_task(_drain(survivor, ledger, stop))
                assert await child.reported("ack", 40, timeout=60), "the child never got to work"
                killed_at = await child.kill()
                for value in child.acked:
                    ledger.record(value)
                unacked_by_child = set(ledger.sent) - set(child.acked)
                await wait_received(ledger, unacked_by_child, killed_at=killed_at, within=60)
                handover = time.monotonic() - killed_at
                stop.set()
                await draining
                await survivor.close()
        finally:
            await broker.delete_topic(topic)
    print(
        f"\nSIGKILL failover: child acked {len(child.acked)}, handover {handover:.1f}s "
        f"(session timeout 6 s), {ledger.summary()}"
    )
    ledger.assert_complete()


async def test_clean_close_hands_over_in_seconds(kafka_url: str) -> None:
    topic = f"anymq-kafka-leave-{uuid.uuid4().hex[:8]}"
    group = f"leave-{uuid.uuid4().hex[:8]}"
    async with anymq.connect(kafka_url) as broker:
        await broker.create_topic(topic, partitions=2)
        try:
            stay = broker.consumer(topic, group)
            leave = broker.consumer(topic, group)
            await stay.start()
            await leave.start()
            async with broker.producer() as producer:
                receipts = await producer.send_batch(
                    topic, [anymq.Message(b"p%d" % p, partition=p) for p in (0, 1)]
                )
            # Each member holds one partition; the leaver reads its message and leaves.
            held = await leave.receive(1, timeout=10)
            assert len(held) == 1
            started = time.monotonic()
            await leave.close()
            got: list[bytes] = []
            while held[0].value not in got:
                got += [m.value for m in await stay.receive(10, timeout=0.5)]
                assert time.monotonic() - started < 15, "handover took more than 15 s"
            handover = time.monotonic() - started
            await stay.close()
        finally:
            await broker.delete_topic(topic)
    assert {r.partition for r in receipts} == {0, 1}
    print(f"\nclean-close handover: {handover:.2f}s")
    assert handover < 5
