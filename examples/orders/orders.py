"""The study's order/payment flow, written once for every broker.

    ANYMQ_URL=kafka://127.0.0.1:9092 python examples/orders/orders.py

An ``orders`` topic with 3 partitions, keyed by order id, carries each order's events
(created, paid, shipped). Its groups are declared with the topic, so consumers that start
after the events were sent still get all of them. Two ``billing`` members bill the events
concurrently (the second joins once the first has billed); the first stops after 6 events
and hands its share to the other. ``notifications`` gets
every event. One poison event fails every time: after 3 deliveries it lands in the
dead-letter topic with its headers, where an ``audit`` group reads it.

Nothing below names a broker or asks for a capability: swap the URL and nothing else.
The script prints one JSON line, the outcome, which is the same on every URL.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections import defaultdict

import anymq

URL = os.environ.get("ANYMQ_URL", "memory://")
RUN = os.environ.get("ORDERS_RUN") or uuid.uuid4().hex[:8]
ORDERS, DEAD = f"orders-{RUN}", f"orders-{RUN}-dead"
STEPS = ("created", "paid", "shipped")
ORDER_COUNT = 12
POISON = "order-poison"
STOP_AFTER = 6  # the first billing member stops after billing this many events


class Billing:
    """What billing did: each (order, step) billed once; repeats counted as duplicates."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.steps: dict[str, list[int]] = defaultdict(list)
        self.billed = 0
        self.duplicates = 0
        self.per_member: dict[str, int] = defaultdict(int)
        self.done = asyncio.Event()
        self.started = asyncio.Event()
        """Set at the first bill: the second member joins then (see main)."""

    def bill(self, member: str, order: str, step: int) -> None:
        if step in self.steps[order]:
            self.duplicates += 1
            return
        self.steps[order].append(step)
        self.billed += 1
        self.per_member[member] += 1
        self.started.set()
        if self.billed == self.expected:
            self.done.set()

    def in_key_order(self) -> bool:
        return all(steps == sorted(steps) for steps in self.steps.values())


async def place_orders(broker: anymq.Broker) -> int:
    """Send every order's events, keyed by order id, plus one poison event."""
    sent = 0
    async with broker.producer() as producer:
        for step, name in enumerate(STEPS):
            for n in range(ORDER_COUNT):
                order = f"order-{n}"
                event = {"order": order, "step": step, "event": name}
                await producer.send(
                    ORDERS,
                    json.dumps(event).encode(),
                    key=order.encode(),
                    headers={"order-id": order.encode()},
                )
                sent += 1
        poison = {"order": POISON, "step": 0, "event": "created", "poison": True}
        await producer.send(
            ORDERS,
            json.dumps(poison).encode(),
            key=POISON.encode(),
            headers={"order-id": POISON.encode()},
        )
    return sent + 1


async def billing_member(
    broker: anymq.Broker,
    name: str,
    billing: Billing,
    stop: asyncio.Event,
    stop_after: int | None,
    join_after: asyncio.Event | None = None,
) -> None:
    if join_after is not None:
        await join_after.wait()
    async with broker.consumer(
        ORDERS, "billing", max_deliveries=3, dead_letter_topic=DEAD, prefetch=5
    ) as consumer:
        billed_here = 0
        while not stop.is_set():  # until every event is billed and the poison dead-lettered
            for msg in await consumer.receive(max_messages=5, timeout=0.5):
                event = json.loads(msg.body)
                if event.get("poison"):
                    await msg.nack()  # fails every time: dead-lettered after 3 deliveries
                    continue
                billing.bill(name, event["order"], event["step"])
                await msg.ack()
                billed_here += 1
                await asyncio.sleep(0.01)  # billing takes a moment
            if stop_after is not None and billed_here >= stop_after:
                return  # leaving the block closes the consumer: the rest moves over


async def notifications(broker: anymq.Broker, expected: int) -> int:
    seen: set[bytes] = set()
    async with broker.consumer(ORDERS, "notifications") as consumer:
        while len(seen) < expected:
            for msg in await consumer.receive(max_messages=50, timeout=0.5):
                seen.add(msg.body)
                await msg.ack()
    return len(seen)


async def audit(broker: anymq.Broker) -> dict[str, object]:
    async with broker.consumer(DEAD, "audit") as consumer:
        while True:
            for msg in await consumer.receive(max_messages=1, timeout=0.5):
                await msg.ack()
                return {
                    "order": json.loads(msg.body)["order"],
                    "order-id header": msg.headers.get("order-id", b"").decode(),
                }


async def main() -> dict[str, object]:
    async with anymq.connect(URL) as broker:
        await broker.create_topic(ORDERS, partitions=3, groups=["billing", "notifications"])
        # dead letters keep their partition, so the dead-letter topic has as many (as Spring
        # Kafka expects, and SQS wants both FIFO)
        await broker.create_topic(DEAD, partitions=3, groups=["audit"])
        try:
            events = await place_orders(broker)  # before any consumer started
            billing = Billing(expected=events - 1)
            stop = asyncio.Event()
            # a task group: if any part fails, the others stop and the error shows at once
            async with asyncio.timeout(120), asyncio.TaskGroup() as parts:
                parts.create_task(billing_member(broker, "billing-1", billing, stop, STOP_AFTER))
                # the second member joins once the first has billed: had it joined first,
                # it could (on a loaded machine) bill everything before a group rebalance
                # gave the first member a partition
                parts.create_task(
                    billing_member(broker, "billing-2", billing, stop, None, billing.started)
                )
                notified = parts.create_task(notifications(broker, events))
                dead = parts.create_task(audit(broker))
                await billing.done.wait()
                await asyncio.wait([notified, dead])
                stop.set()
            return {
                "events": events,
                "billed": billing.billed,
                "in key order": billing.in_key_order(),
                "both members billed": len(billing.per_member) == 2,
                "notified": notified.result(),
                "dead letter": dead.result(),
                "duplicates": billing.duplicates,
            }
        finally:
            for topic in (ORDERS, DEAD):
                await broker.delete_topic(topic)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
