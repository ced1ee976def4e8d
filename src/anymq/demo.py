"""``anymq demo``: the semantics of the model, shown live on one broker.

Each step states a guarantee, exercises it and prints what it saw, so a newcomer sees
groups sharing work, fan-out, broadcast, history kept after consumption, replay
and redelivery in a few seconds. A step waits for what it expects until a
deadline (one ``receive`` returns with the first batch, which on a real broker is rarely
everything), then says ``ok:`` or ``FAILED:`` with the counts and the names of missing or
duplicate messages; any failed step makes the demo exit 1, so it never claims more than
the broker did.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import anymq
from anymq.cli_output import out
from anymq.features import Feature

STEP_DEADLINE = 15.0
"""Seconds a step waits for what it expects before it reports a failure."""
SETTLE = 0.3
"""Seconds a step keeps listening after it saw everything, to catch duplicates and extras."""
SHOWN = 6
"""Most message names listed in a line (missing, duplicates, extras)."""


def _names(bodies: Sequence[bytes]) -> str:
    shown = [b.decode(errors="replace") for b in bodies[:SHOWN]]
    more = f" and {len(bodies) - SHOWN} more" if len(bodies) > SHOWN else ""
    return ", ".join(shown) + more


@dataclass
class Seen:
    """What some consumers received while a step waited for the ``expected`` bodies."""

    expected: list[bytes]
    received: list[list[anymq.Received]] = field(default_factory=list)
    """Per consumer, in the order received."""
    took: float = 0.0

    @property
    def bodies(self) -> list[bytes]:
        return [m.body for got in self.received for m in got]

    @property
    def missing(self) -> list[bytes]:
        got = set(self.bodies)
        return [b for b in self.expected if b not in got]

    @property
    def duplicates(self) -> list[bytes]:
        return sorted(b for b, n in Counter(self.bodies).items() if n > 1)

    @property
    def unexpected(self) -> list[bytes]:
        wanted = set(self.expected)
        return list(dict.fromkeys(b for b in self.bodies if b not in wanted))

    @property
    def complete(self) -> bool:
        return not self.missing

    def tally(self) -> str:
        """``<distinct expected seen> of <expected>``, then what was wrong, if anything."""
        text = f"{len(self.expected) - len(self.missing)} of {len(self.expected)}"
        return text + self.problems()

    def problems(self) -> str:
        text = ""
        if self.missing:
            text += f"; missing: {_names(self.missing)}"
        if self.duplicates:
            text += f"; duplicates: {_names(self.duplicates)}"
        if self.unexpected:
            text += f"; not expected: {_names(self.unexpected)}"
        return text

    def summary(self, prefix: str) -> str:
        return f"{prefix} {self.tally()} ({self.took:.1f}s)"


async def collect(
    consumers: Sequence[anymq.Consumer],
    expected: Sequence[bytes],
    *,
    deadline: float = STEP_DEADLINE,
    settle: float = SETTLE,
    ack: bool = True,
) -> Seen:
    """Receive from ``consumers`` (in turn) until every expected body arrived or
    ``deadline`` seconds passed, then ``settle`` seconds more; ack what arrives."""
    seen = Seen(list(expected), [[] for _ in consumers])
    started = time.monotonic()
    until = started + deadline
    settled: float | None = None
    per_call = 0.2 if len(consumers) > 1 else 1.0
    while True:
        now = time.monotonic()
        if settled is None and seen.complete:
            settled = now + settle
        end = until if settled is None else settled  # settle may pass the deadline
        if now >= end:
            break
        for got, consumer in zip(seen.received, consumers, strict=True):
            wait = max(0.01, min(per_call, end - time.monotonic()))
            for msg in await consumer.receive(100, wait):
                got.append(msg)
                if ack:
                    await msg.ack()
    seen.took = time.monotonic() - started if settled is None else settled - settle - started
    return seen


async def find(
    consumers: Sequence[anymq.Consumer], body: bytes, *, deadline: float = STEP_DEADLINE
) -> anymq.Received | None:
    """The first delivery of ``body`` to any of ``consumers`` (unsettled), acking others."""
    until = time.monotonic() + deadline
    while time.monotonic() < until:
        for consumer in consumers:
            wait = max(0.01, min(0.2, until - time.monotonic()))
            for msg in await consumer.receive(1, wait):
                if msg.body == body:
                    return msg
                await msg.ack()
    return None


class Step:
    """One guarantee: its title, then ``ok: what was seen`` or ``FAILED: what was seen``."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.ok = False

    def expect(self, ok: bool, text: str) -> str:
        self.ok = ok
        line = f"{'ok' if ok else 'FAILED'}: {text}"
        out.line(f"• {self.title}", style="bold cyan")
        out.line(f"  {line}", style="green" if ok else "bold red")
        return line


async def run_demo(url: str) -> int:
    """Run every step the backend declares; 1 if any step did not see what it expected."""
    async with anymq.connect(url) as broker:
        caps = broker.capabilities
        out.line(f"anymq demo on {broker.url.render()} ({caps.backend})", style="bold")
        out.line(f"declared: {', '.join(sorted(f.value for f in caps.features))}")
        token = uuid.uuid4().hex[:6]
        topic = f"demo-orders-{token}"
        partitions = 3 if Feature.PARTITIONS in caps else 1
        await broker.create_topic(topic, partitions=partitions)
        try:
            steps = await Walk(broker, topic, partitions, token).run()
        finally:
            await broker.delete_topic(topic)
    failed = [s.title for s in steps if not s.ok]
    if failed:
        out.line(
            f"{len(failed)} of {len(steps)} steps did not see what they expected: "
            + "; ".join(failed),
            style="bold red",
        )
        return 1
    out.line(f"each of the {len(steps)} steps saw what it expected", style="bold green")
    return 0


class Walk:
    """The steps, on one fresh topic; group names carry the run's token, so demos running
    at the same time on one broker never share a group."""

    def __init__(self, broker: anymq.Broker, topic: str, partitions: int, token: str) -> None:
        self.broker = broker
        self.caps = broker.capabilities
        self.topic = topic
        self.partitions = partitions
        self.token = token
        self.steps: list[Step] = []
        self.orders = [b"order-%d" % i for i in range(12)]
        self.sent: list[bytes] = []

    def group(self, name: str) -> str:
        return f"{name}-{self.token}"

    def step(self, title: str) -> Step:
        self.steps.append(Step(title))
        return self.steps[-1]

    async def run(self) -> list[Step]:
        await self.live_groups()
        await self.history()
        await self.broadcast()
        self.undeclared()
        return self.steps

    async def live_groups(self) -> None:
        broker, topic = self.broker, self.topic
        async with contextlib.AsyncExitStack() as stack:
            billing = [
                await stack.enter_async_context(broker.consumer(topic, self.group("billing")))
                for _ in range(2)
            ]
            shipping = None
            if Feature.FAN_OUT in self.caps:
                shipping = await stack.enter_async_context(
                    broker.consumer(topic, self.group("shipping"))
                )
            producer = await stack.enter_async_context(broker.producer())
            for i, body in enumerate(self.orders):
                await producer.send(topic, body, key=b"user-%d" % (i % 4))
            self.sent += self.orders
            shared = await collect(billing, self.orders)
            a, b = (len(got) for got in shared.received)
            self.step("Members of one group share the work, each message to one member").expect(
                shared.complete,
                f"billing A got {a}, billing B got {b}: {shared.tally()} distinct "
                f"({shared.took:.1f}s)",
            )
            if shipping is None:
                self.step("Every group gets every message").expect(
                    True, "skipped: fan_out is not declared (one group per topic)"
                )
            else:
                shipped = await collect([shipping], self.orders)
                self.step("Every group gets every message").expect(
                    shipped.complete, shipped.summary("shipping got")
                )
            self.keys(shared)
            await self.nack(billing, producer)

    def keys(self, shared: Seen) -> None:
        """Each key in one partition; with key_ordering, each member got a key's messages
        in the order they were sent."""
        key_of = {body: i % 4 for i, body in enumerate(self.orders)}
        parts: dict[int, set[int | None]] = defaultdict(set)
        spread: Counter[int | None] = Counter()
        out_of_order: list[str] = []
        for got in shared.received:
            last: dict[int, int] = {}
            for msg in dict((m.body, m) for m in reversed(got)).values():  # first deliveries
                if msg.body not in key_of:
                    continue
                key = key_of[msg.body]
                parts[key].add(msg.partition)
                spread[msg.partition] += 1
            for msg in got:
                if msg.body not in key_of:
                    continue
                key, index = key_of[msg.body], self.orders.index(msg.body)
                if index < last.get(key, -1):
                    out_of_order.append(f"user-{key}")
                last[key] = max(index, last.get(key, -1))
        split = sorted(f"user-{k}" for k, p in parts.items() if len(p) > 1)
        ordering = Feature.KEY_ORDERING in self.caps
        text = "messages per partition: " + ", ".join(
            f"p{p}={n}" for p, n in sorted(spread.items(), key=lambda kv: (kv[0] is None, kv[0]))
        )
        claim = "in one partition, in the order sent" if ordering else "in one partition"
        if not split and not (ordering and out_of_order):
            text += f"; each of the {len(parts)} keys {claim}"
        if split:
            text += f"; keys in several partitions: {', '.join(split)}"
        if ordering and out_of_order:
            text += f"; keys out of order: {', '.join(sorted(set(out_of_order)))}"
        ok = not split and not (ordering and out_of_order) and len(parts) == 4
        title = f"Keys pick partitions ({self.partitions} here)"
        self.step(title + ("; one key keeps its order" if ordering else "")).expect(ok, text)

    async def nack(self, billing: list[anymq.Consumer], producer: anymq.Producer) -> None:
        """Follow one message: nack it, and wait for that same message to come back."""
        flaky = f"flaky-{self.token}".encode()
        await producer.send(self.topic, flaky)
        self.sent.append(flaky)
        step = self.step("A nacked message comes back")
        started = time.monotonic()
        first = await find(billing, flaky)
        if first is None:
            step.expect(False, f"{flaky.decode()} was not delivered within {STEP_DEADLINE:g}s")
            return
        count = first.delivery_count
        await first.nack()
        again = await find(billing, flaky)
        took = time.monotonic() - started
        if again is None:
            step.expect(
                False,
                f"{flaky.decode()} nacked (delivery_count={count}), did not come back within "
                f"{STEP_DEADLINE:g}s",
            )
            return
        await again.ack()
        step.expect(
            again.delivery_count == count + 1,
            f"{flaky.decode()} nacked (delivery_count={count}), {flaky.decode()} came back "
            f"with delivery_count={again.delivery_count} ({took:.1f}s)",
        )

    async def history(self) -> None:
        broker, topic = self.broker, self.topic
        if Feature.RETAINS_CONSUMED in self.caps:
            async with broker.consumer(topic, self.group("audit"), start="earliest") as audit:
                history = await collect([audit], self.sent)
            self.step(
                "Event broker: consumed messages are kept, a new group reads the history"
            ).expect(history.complete, history.summary("the new 'audit' group read"))
        else:
            await self.gone()
        if Feature.REPLAY in self.caps:
            async with broker.consumer(topic, self.group("billing")) as billing:
                await billing.seek(anymq.Position.earliest())
                replay = await collect([billing], self.sent)
            self.step("Replay: seek a group back to the start").expect(
                replay.complete, replay.summary("billing re-read")
            )

    async def gone(self) -> None:
        """A message broker: a new group cannot ask for the history, and gets none of it."""
        broker, topic = self.broker, self.topic
        step = self.step("Message broker: acked messages are gone, a new group starts empty")
        try:
            async with broker.consumer(topic, self.group("audit"), start="earliest"):
                refused, said = False, "start='earliest' was accepted"
        except anymq.UnsupportedFeature as exc:
            refused, said = True, f"start='earliest' refused (UnsupportedFeature: {exc.feature})"
        async with broker.consumer(topic, self.group("audit2")) as audit:
            late = await collect([audit], [], deadline=0, settle=1.0)
        step.expect(
            refused and not late.bodies,
            f"{said}; a new group got {len(late.bodies)} of the {len(self.sent)} old "
            f"messages in 1s{late.problems() if late.bodies else ''}",
        )

    async def broadcast(self) -> None:
        if Feature.BROADCAST not in self.caps:
            return
        broker, topic = self.broker, self.topic
        async with broker.consumer(topic) as watcher, broker.producer() as producer:
            await producer.send(topic, b"live")
            seen = await collect([watcher], [b"live"], settle=0.5)
        self.step("A consumer without a group sees only what is sent while it listens").expect(
            seen.complete and not seen.unexpected and not seen.duplicates,
            f"it got {[b.decode(errors='replace') for b in seen.bodies]} "
            f"(none of the {len(self.sent)} sent before{seen.problems()})",
        )

    def undeclared(self) -> None:
        missing = [f for f in (Feature.EXACTLY_ONCE, *Feature) if f not in self.caps]
        if not missing:
            return
        step = self.step("Undeclared guarantees fail loudly")
        try:
            self.broker.require(missing[0])
        except anymq.UnsupportedFeature as exc:
            step.expect(True, f"UnsupportedFeature: {exc}")
        else:
            step.expect(False, f"require({missing[0].value!r}) did not raise")
