"""Consumer failover with a real crash: a group member in another OS process is killed with
SIGKILL mid-stream. What it held unacked comes back after the visibility timeout (the dead
process no longer extends it) to the surviving member; nothing is lost."""

from __future__ import annotations

import asyncio
import time

import pytest

import anymq
from anymq.testing.ledger import Ledger
from tests.failover import KilledMember, wait_received
from tests.sqs.helpers import unique

pytestmark = [pytest.mark.sqs, pytest.mark.anymq]

VISIBILITY = 2

# The member that gets killed: acks even messages, holds odd ones, reports both on stdout.
CHILD = r"""
import asyncio, sys
import anymq

async def main(url, topic, group, visibility):
    async with anymq.connect(url) as broker:
        consumer = broker.consumer(topic, group, prefetch=10, visibility_timeout=visibility)
        async with consumer:
            print("ready", flush=True)
            async for msg in consumer:
                await asyncio.sleep(0.02)
                if int(msg.value[1:]) % 2 == 0:
                    await msg.ack()
                    print("ack", msg.value.decode(), flush=True)
                else:
                    print("held", msg.value.decode(), flush=True)

asyncio.run(main(*sys.argv[1:5]))
"""


@pytest.mark.slow
async def test_sigkilled_member_hands_its_messages_to_the_survivor(sqs_url: str) -> None:
    count = 120
    topic = unique("kill")
    group = "workers"
    ledger = Ledger()
    seen_by_survivor: dict[bytes, float] = {}
    async with anymq.connect(sqs_url) as broker:
        await broker.create_topic(topic)
        try:
            survivor = broker.consumer(topic, group, prefetch=10, visibility_timeout=VISIBILITY)
            await survivor.start()
            async with KilledMember(CHILD, sqs_url, topic, group, str(VISIBILITY)) as child:
                await child.ready()
                async with broker.producer() as producer:
                    await producer.send_batch(
                        topic, [anymq.Message(ledger.expect(b"m%04d" % i)) for i in range(count)]
                    )
                stop = asyncio.Event()

                async def drain() -> None:
                    while not stop.is_set():
                        for msg in await survivor.receive(10, timeout=0.2):
                            seen_by_survivor.setdefault(msg.value, time.monotonic())
                            ledger.record(msg.value)
                            await msg.ack()
                            await asyncio.sleep(0.01)

                draining = asyncio.create_task(drain())
                assert await child.reported("held", 6, timeout=60), "the child never got to work"
                # Held past its visibility timeout: the live child's heartbeat must extend it.
                await asyncio.sleep(1.5 * VISIBILITY)
                killed_at = await child.kill()
                held = set(child.held)
                early = held & {v for v, at in seen_by_survivor.items() if at < killed_at}
                assert not early, f"messages held by the live child were visible: {sorted(early)}"
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
        f"\nSIGKILL failover: child acked {len(child.acked)}, held {len(held)}; handover of "
        f"the held ones {handover:.1f}s after the kill (visibility timeout {VISIBILITY}s); "
        f"{ledger.summary()}"
    )
    assert held <= set(seen_by_survivor)
    assert handover <= VISIBILITY + 5
    ledger.assert_complete()
