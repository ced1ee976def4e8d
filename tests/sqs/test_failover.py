"""Consumer failover with a real crash: a group member in another OS process is killed with
SIGKILL mid-stream. What it held unacked comes back after the visibility timeout (the dead
process no longer extends it) to the surviving member; nothing is lost."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

import pytest

import anymq
from anymq.testing.ledger import Ledger
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
    acked_by_child: list[bytes] = []
    held_by_child: list[bytes] = []
    seen_by_survivor: dict[bytes, float] = {}
    async with anymq.connect(sqs_url) as broker:
        await broker.create_topic(topic)
        child = None
        try:
            survivor = broker.consumer(topic, group, prefetch=10, visibility_timeout=VISIBILITY)
            await survivor.start()
            child = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                CHILD,
                sqs_url,
                topic,
                group,
                str(VISIBILITY),
                stdout=asyncio.subprocess.PIPE,
            )
            assert child.stdout is not None
            line = await asyncio.wait_for(child.stdout.readline(), 60)
            assert line.strip() == b"ready", line

            async def read_child() -> None:
                assert child is not None
                assert child.stdout is not None
                async for raw in child.stdout:
                    word, _, value = raw.decode().strip().partition(" ")
                    (acked_by_child if word == "ack" else held_by_child).append(value.encode())

            reader = asyncio.create_task(read_child())
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
            deadline = time.monotonic() + 60
            while len(held_by_child) < 6:
                assert time.monotonic() < deadline, "the child never got to work"
                await asyncio.sleep(0.02)
            await asyncio.sleep(1.5 * VISIBILITY)  # held past its visibility timeout: heartbeat
            os.kill(child.pid, signal.SIGKILL)
            killed_at = time.monotonic()
            await child.wait()
            await reader
            held = set(held_by_child)
            early = held & {v for v, at in seen_by_survivor.items() if at < killed_at}
            assert not early, f"messages held by the live child were visible: {sorted(early)}"
            for value in acked_by_child:
                ledger.record(value)
            while not (set(ledger.sent) <= set(ledger.received)):
                assert time.monotonic() - killed_at < 30, (
                    f"survivor still misses {len(set(ledger.sent) - set(ledger.received))} "
                    f"messages 30 s after the kill ({ledger.summary()})"
                )
                await asyncio.sleep(0.05)
            handover = max(seen_by_survivor[v] for v in held) - killed_at
            stop.set()
            await draining
            await survivor.close()
        finally:
            if child is not None and child.returncode is None:
                child.kill()
                await child.wait()
            await broker.delete_topic(topic)
    print(
        f"\nSIGKILL failover: child acked {len(acked_by_child)}, held {len(held)}; handover of "
        f"the held ones {handover:.1f}s after the kill (visibility timeout {VISIBILITY}s); "
        f"{ledger.summary()}"
    )
    assert held <= set(seen_by_survivor)
    assert handover <= VISIBILITY + 5
    ledger.assert_complete()
