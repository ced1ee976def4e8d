"""Consumer failover with a real crash: a group member in another OS process is killed
with SIGKILL mid-stream. RabbitMQ requeues what it held unacked as soon as its connection
drops, so the surviving member receives all of it; in stream mode the killed process was
also the group's pump and the survivor takes the pump over."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

import pytest

import anymq
from anymq.testing.ledger import Ledger
from tests.failover import KilledMember
from tests.rabbitmq.helpers import with_query

pytestmark = [pytest.mark.rabbitmq, pytest.mark.anymq, pytest.mark.slow]

# The member that gets killed: takes messages, acks every other one, reports both.
CHILD = r"""
import asyncio, sys
import anymq

async def main(url, topic, group):
    async with anymq.connect(url) as broker:
        async with broker.consumer(topic, group, prefetch=20) as consumer:
            print("ready", flush=True)
            n = 0
            async for msg in consumer:
                n += 1
                print("got", msg.value.decode(), flush=True)
                await asyncio.sleep(0.01)
                if n % 2 == 0:
                    await msg.ack()
                    print("ack", msg.value.decode(), flush=True)

asyncio.run(main(*sys.argv[1:4]))
"""


@pytest.mark.parametrize("mode", ["classic", "stream"])
async def test_sigkilled_member_hands_over_unacked(rabbitmq_url: str, mode: str) -> None:
    url = with_query(rabbitmq_url, mode=mode)
    count = 400
    topic = f"anymq-rmq-kill-{uuid.uuid4().hex[:8]}"
    group = "workers"
    ledger = Ledger()
    async with anymq.connect(url) as broker:
        await broker.create_topic(topic)
        try:
            # The child joins first: in stream mode it becomes the group's pump.
            async with KilledMember(CHILD, url, topic, group) as child:
                await child.ready()
                survivor = broker.consumer(topic, group, prefetch=20)
                await survivor.start()

                stop = asyncio.Event()
                complete = asyncio.Event()
                seen_at: dict[bytes, float] = {}

                async def drain() -> None:
                    while not stop.is_set():
                        for msg in await survivor.receive(max_messages=50, timeout=0.2):
                            ledger.record(msg.value)
                            seen_at.setdefault(msg.value, time.monotonic())
                            await asyncio.sleep(0.002)
                            await msg.ack()
                        if child.returncode is not None and _complete(ledger, child.acked):
                            complete.set()

                draining = asyncio.create_task(drain())
                async with broker.producer() as producer:
                    for i in range(count):
                        await producer.send(topic, ledger.expect(b"m%04d" % i))
                await child.reported("got", 30, timeout=30)
                assert len(child.got) >= 30, "the child member never got its share"
                killed = await child.kill()
                held = set(child.got) - set(child.acked)
                assert held, "the child held nothing unacked when it was killed"
                if _complete(ledger, child.acked):
                    complete.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(complete.wait(), 60)
                stop.set()
                await draining
                await survivor.close()
        finally:
            await broker.delete_topic(topic)
    handed = [seen_at[v] - killed for v in held if v in seen_at and seen_at[v] >= killed]
    for value in child.acked:  # acked by the child: done for the group
        ledger.record(value)
    print(
        f"{mode}: child got {len(child.got)}, acked {len(child.acked)}, held {len(held)} "
        f"unacked at SIGKILL; handover {min(handed) if handed else float('nan'):.3f}s; "
        f"{ledger.summary()}"
    )
    assert held <= set(ledger.received), "messages the killed member held were lost"
    ledger.assert_complete(exactly_once=False)


def _complete(ledger: Ledger, child_acked: list[bytes]) -> bool:
    """Everything sent was received by the survivor or acked by the killed member."""
    return set(ledger.sent) <= set(ledger.received) | set(child_acked)
