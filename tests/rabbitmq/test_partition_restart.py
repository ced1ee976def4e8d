"""A partitioned group across a server restart (on the private node of
conftest.py):
the members' partition channels and roster queues die with the connection; once it is
back they subscribe again, nothing confirmed is lost and each key stays in order."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import defaultdict

import pytest

import anymq
from anymq.message import Received
from tests.rabbitmq.helpers import own_server, with_query

pytestmark = [pytest.mark.rabbitmq, pytest.mark.anymq, pytest.mark.slow]


@pytest.mark.parametrize("mode", ["classic", "stream"])
async def test_partitioned_group_across_a_restart(own_node: str, mode: str) -> None:
    url = with_query(own_node, mode=mode)
    topic = f"anymq-rmq-partrestart-{uuid.uuid4().hex[:8]}"
    keys, per_key = 8, 60
    got: list[Received] = []
    confirmed: set[bytes] = set()
    async with anymq.connect(url) as broker:
        await broker.create_topic(topic, partitions=4)
        try:
            members = [broker.consumer(topic, "g", prefetch=10) for _ in range(2)]
            for member in members:
                await member.start()
            stop, complete = asyncio.Event(), asyncio.Event()

            async def drain(consumer: anymq.Consumer) -> None:
                while not stop.is_set():
                    try:
                        batch = await consumer.receive(10, 0.2)
                    except anymq.BrokerUnavailable:
                        continue
                    for msg in batch:
                        got.append(msg)
                        await asyncio.sleep(0.001)
                        with contextlib.suppress(anymq.AnyMQError):
                            await msg.ack()  # fails if the connection went: redelivered
                    if producing.done() and not confirmed - {m.value for m in got}:
                        complete.set()

            async def produce() -> None:
                async with broker.producer() as producer:
                    for seq in range(per_key):
                        for k in range(keys):
                            value = b"%d:%d" % (k, seq)
                            await producer.send(topic, value, key=b"k%d" % k)
                            confirmed.add(value)
                        await asyncio.sleep(0.02)

            producing = asyncio.create_task(produce())
            tasks = [asyncio.create_task(drain(m)) for m in members]
            await asyncio.sleep(0.5)
            await own_server("restart")
            await producing
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(complete.wait(), 60)
            stop.set()
            await asyncio.gather(*tasks)
            for member in members:
                await member.close()
        finally:
            await broker.delete_topic(topic)
    lost = confirmed - {m.value for m in got}
    assert not lost, f"lost {sorted(lost)[:10]} of {len(confirmed)}"
    firsts: dict[bytes, list[int]] = defaultdict(list)
    seen: set[bytes] = set()
    for msg in got:
        if msg.value not in seen:
            seen.add(msg.value)
            firsts[msg.key or b""].append(int(msg.value.split(b":")[1]))
    for key, order in firsts.items():
        assert order == sorted(order), f"{key!r}: a newer message overtook an older one: {order}"
    print(f"{mode}: received {len(got)} for {len(confirmed)} sent")
