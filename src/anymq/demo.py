"""``anymq demo``: the semantics of the model, shown live on one broker.

Each step states a guarantee, exercises it and prints what happened, so a newcomer sees
groups sharing work, fan-out, broadcast, history kept after consumption, replay,
redelivery and dead letters in a few seconds.
"""

from __future__ import annotations

import uuid
from collections import Counter

import anymq
from anymq.cli_output import out
from anymq.features import Feature


def _step(title: str, outcome: str) -> None:
    out.line(f"• {title}", style="bold cyan")
    out.line(f"  {outcome}", style="green")


async def run_demo(url: str) -> int:
    """Run every step the backend declares; say so for the ones it does not."""
    async with anymq.connect(url) as broker:
        caps = broker.capabilities
        out.line(f"anymq demo on {broker.url.render()} ({caps.backend})", style="bold")
        out.line(f"declared: {', '.join(sorted(f.value for f in caps.features))}")
        topic = f"demo-orders-{uuid.uuid4().hex[:6]}"
        partitions = 3 if Feature.PARTITIONS in caps else 1
        await broker.create_topic(topic, partitions=partitions)
        try:
            await _walk(broker, topic, partitions)
        finally:
            await broker.delete_topic(topic)
    return 0


async def _walk(broker: anymq.Broker, topic: str, partitions: int) -> None:
    caps = broker.capabilities
    async with (
        broker.consumer(topic, "billing") as billing_a,
        broker.consumer(topic, "billing") as billing_b,
        broker.consumer(topic, "shipping") as shipping,
        broker.producer() as producer,
    ):
        for i in range(12):
            await producer.send(topic, b"order-%d" % i, key=b"user-%d" % (i % 4))
        got_a = [m for m in await billing_a.receive(100, 0.5)]
        got_b = [m for m in await billing_b.receive(100, 0.5)]
        for m in got_a + got_b:
            await m.ack()
        _step(
            "Members of one group share the work, each message to one member",
            f"billing A got {len(got_a)}, billing B got {len(got_b)}, "
            f"{len({m.body for m in got_a + got_b})} distinct of 12",
        )
        shipped = await shipping.receive(100, 0.5)
        for m in shipped:
            await m.ack()
        _step("Every group gets every message", f"shipping got {len(shipped)} of 12")
        spread = Counter(m.partition for m in got_a + got_b)
        _step(
            f"Keys pick partitions ({partitions} here); one key keeps its order",
            "messages per partition: " + ", ".join(f"p{p}={n}" for p, n in sorted(spread.items())),
        )

        await producer.send(topic, b"flaky")
        [first] = await billing_a.receive(1, 0.5) or await billing_b.receive(1, 0.5)
        await first.nack()
        again = await billing_a.receive(1, 0.5) or await billing_b.receive(1, 0.5)
        for m in again:
            await m.ack()
        _step(
            "A nacked message comes back",
            f"{again[0].body.decode()} redelivered, delivery_count={again[0].delivery_count}",
        )

    if Feature.RETAINS_CONSUMED in caps:
        async with broker.consumer(topic, "audit", start="earliest") as audit:
            history = await audit.receive(100, 0.5)
        _step(
            "Event broker: consumed messages are kept, a new group reads the history",
            f"the new 'audit' group read {len(history)} old messages",
        )
    else:
        _step("Message broker: acked messages are gone", "a new group starts empty")
    if Feature.REPLAY in caps:
        async with broker.consumer(topic, "billing") as billing:
            await billing.seek(anymq.Position.earliest())
            replay = await billing.receive(100, 0.5)
        _step("Replay: seek a group back to the start", f"billing re-read {len(replay)} messages")
    if Feature.BROADCAST in caps:
        async with broker.consumer(topic) as watcher, broker.producer() as producer:
            await producer.send(topic, b"live")
            seen = await watcher.receive(10, 0.5)
        _step(
            "A consumer without a group sees only what is sent while it listens",
            f"it got {[m.body.decode() for m in seen]}",
        )
    try:
        broker.require(Feature.EXACTLY_ONCE)
    except anymq.UnsupportedFeature as exc:
        _step("Undeclared guarantees fail loudly", f"UnsupportedFeature: {exc}")
