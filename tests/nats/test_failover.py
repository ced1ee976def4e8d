"""Consumer failover with a real crash on NATS JetStream: a group member in another OS process
is SIGKILLed mid-stream. Its partition leases in the group's KV bucket run out after
``ack_wait`` + 2 s; the survivor takes its partitions, and JetStream redelivers what the dead
member held unacked once its ``ack_wait`` passed.
Nothing is lost and nothing it acked comes back (key order across a kill is the contract
suite's test_key_order_holds_when_a_member_is_killed). Measured: the handover, from the
kill to the survivor's first copy of the last held message."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

import anymq
from anymq.testing.ledger import Ledger
from tests.failover import KilledMember, wait_received

pytestmark = [pytest.mark.nats, pytest.mark.anymq, pytest.mark.slow]

ACK_WAIT = 2
PARTITIONS = 4

# The member that gets killed: acks even messages, holds odd ones, reports both on stdout.
CHILD = r"""
import asyncio, sys
import anymq

async def main(url, topic, group):
    async with anymq.connect(url) as broker:
        async with broker.consumer(topic, group, prefetch=10) as consumer:
            print("ready", flush=True)
            async for msg in consumer:
                await asyncio.sleep(0.02)
                if int(msg.value.split(b":")[1]) % 2 == 0:
                    await msg.ack()
                    print("ack", msg.value.decode(), flush=True)
                else:
                    print("held", msg.value.decode(), flush=True)

asyncio.run(main(*sys.argv[1:4]))
"""


async def test_sigkilled_member_hands_its_partitions_and_messages_to_the_survivor(
    nats_url: str,
) -> None:
    url = f"{nats_url}{'&' if '?' in nats_url else '?'}ack_wait={ACK_WAIT}"
    topic = f"anymq-nats-kill-{uuid.uuid4().hex[:8]}"
    group = "workers"
    keys = [b"k%d" % k for k in range(16)]
    ledger = Ledger()
    seen_by_survivor: dict[bytes, float] = {}
    async with anymq.connect(url) as broker:
        await broker.create_topic(topic, partitions=PARTITIONS)
        try:
            survivor = broker.consumer(topic, group, prefetch=10)
            await survivor.start()
            async with KilledMember(CHILD, url, topic, group) as child:
                await child.ready()
                async with broker.producer() as producer:
                    await producer.send_batch(
                        topic,
                        [
                            anymq.Message(ledger.expect(b"%s:%d" % (key, seq), key), key=key)
                            for seq in range(10)
                            for key in keys
                        ],
                    )
                stop = asyncio.Event()

                async def drain() -> None:
                    while not stop.is_set():
                        for msg in await survivor.receive(10, timeout=0.2):
                            seen_by_survivor.setdefault(msg.value, time.monotonic())
                            ledger.record(msg.value)
                            await msg.ack()

                draining = asyncio.create_task(drain())
                assert await child.reported("held", 6, timeout=60), "the child never got to work"
                killed_at = await child.kill()
                held = set(child.held)
                for value in child.acked:
                    ledger.record(value)
                await wait_received(ledger, ledger.sent, killed_at=killed_at, within=30)
                handover = max(seen_by_survivor[v] for v in held) - killed_at
                stop.set()
                await draining
                await survivor.close()
        finally:
            await broker.delete_topic(topic)
    print(
        f"\nNATS SIGKILL failover: child acked {len(child.acked)}, held {len(held)}; the held "
        f"ones reached the survivor {handover:.1f}s after the kill (ack_wait "
        f"{ACK_WAIT}s); {ledger.summary()}"
    )
    assert held <= set(seen_by_survivor), "a message the dead member held never came back"
    assert not set(child.acked) & set(seen_by_survivor), "a message the child acked came back"
    assert handover <= ACK_WAIT + 2 + 5, f"handover took {handover:.1f}s"
    ledger.assert_complete()
