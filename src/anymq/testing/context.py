"""What one contract test needs: a URL, unique names, helpers, cleanup and observations."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anymq
from anymq.client import Broker, Consumer
from anymq.errors import AnyMQError
from anymq.features import Capabilities, Feature
from anymq.message import Received
from anymq.model import Retention
from anymq.testing.ledger import Ledger
from anymq.testing.waiting import Watch, until_delivered


class TestContext:
    """Per-test helper handed to every contract test as ``ctx``."""

    __test__ = False  # not a test class for pytest

    def __init__(
        self,
        url: str,
        *,
        test_name: str,
        settings: dict[str, Any],
        record: Callable[[str, object], None],
    ) -> None:
        self.url = url
        self.settings = settings
        self._record = record
        self._topics: list[str] = []
        self._brokers: list[Broker] = []
        probe = anymq.connect(url)
        self.capabilities: Capabilities = probe.capabilities
        self.backend = probe.backend
        self.url_shown = str(probe.url)
        """The URL with its password masked (for reports)."""
        slug = re.sub(r"[^A-Za-z0-9]+", "-", test_name.removeprefix("test_"))[:24].strip("-")
        self._slug = f"{slug}-{uuid.uuid4().hex[:8]}"
        self.outcome = "passed"
        """Set to "unsupported" when the test asserted a refusal instead of the behaviour."""
        self.quiet: float = settings["quiet_period"]
        self.timeout: float = settings["delivery_timeout"]
        grace = settings.get("loss_grace")
        self.loss_grace: float = min(
            self.timeout, grace if grace is not None else max(3.0, 10 * self.quiet)
        )
        """Seconds without a new message, after some arrived, that mean the rest is lost."""

    # -- names and brokers -------------------------------------------------------------
    def has(self, feature: Feature) -> bool:
        return feature in self.capabilities.features

    def name(self, label: str = "t") -> str:
        """A unique topic name for this test (with the suite's prefix and suffix)."""
        prefix = self.settings["topic_prefix"]
        return f"{prefix}-{self._slug}-{label}{self.settings['topic_suffix']}"

    def group(self, label: str = "g") -> str:
        """A unique group name for this test."""
        return f"{self.settings['topic_prefix']}-{self._slug}-{label}"

    def partitions(self, wanted: int) -> int:
        """``wanted`` where the backend has partitions, else 1."""
        if self.has(Feature.PARTITIONS):
            return min(wanted, self.capabilities.max_partitions)
        return 1

    def broker(self, **options: Any) -> Broker:
        """A new broker connection to the URL under test; closed at the end of the test."""
        broker = anymq.connect(self.url, **options)
        self._brokers.append(broker)
        return broker

    async def topic(
        self,
        broker: Broker,
        label: str = "t",
        *,
        partitions: int = 1,
        retention: Retention | None = None,
        **options: Any,
    ) -> str:
        """Create a unique topic for this test; it is deleted when the test ends."""
        name = self.name(label)
        self._topics.append(name)
        await broker.create_topic(name, partitions=partitions, retention=retention, **options)
        return name

    def observe(self, key: str, value: object) -> None:
        """Record a figure the comparison report shows (duplicates, spread, timings)."""
        self._record(f"anymq_observed:{key}", value)

    async def aclose_test(self) -> None:
        """Close brokers and delete this test's topics (also after a failure)."""
        self._record("anymq_outcome", self.outcome)
        for broker in self._brokers:
            with contextlib.suppress(Exception):
                await broker.close()
        if not self._topics:
            return
        with contextlib.suppress(Exception):
            async with anymq.connect(self.url) as broker:
                for name in self._topics:
                    with contextlib.suppress(AnyMQError):
                        await broker.delete_topic(name)

    # -- receiving ---------------------------------------------------------------------
    async def collect(
        self,
        consumer: Consumer,
        count: int,
        *,
        ack: bool = True,
        timeout: float | None = None,
        ledger: Ledger | None = None,
    ) -> list[Received]:
        """Receive until ``count`` messages arrived (acking them) or the timeout passes.

        With a ``ledger`` of messages sent before this call, each message's value is
        recorded in it, and the wait ends as soon as a loss is known (see
        :mod:`anymq.testing.waiting`) instead of at the timeout; the ledger's failure then
        says why the wait ended.
        """
        loop = asyncio.get_running_loop()
        limit = timeout if timeout is not None else self.timeout
        deadline = loop.time() + limit
        watch = Watch(self.loss_grace, self.confirm) if ledger is not None else None
        out: list[Received] = []
        while len(out) < count:
            remaining = deadline - loop.time()
            if remaining <= 0:
                if ledger is not None and ledger.lost:
                    ledger.stopped = f"gave up after the {limit:g}s delivery timeout"
                break
            if watch is not None and ledger is not None:
                watch.seen(len(out))
                ledger.stopped = watch.verdict(self.proven_lost(ledger))
                if ledger.stopped:
                    break
            batch = await consumer.receive(
                max_messages=count - len(out), timeout=min(remaining, 1.0)
            )
            for msg in batch:
                if ack:
                    await msg.ack()
                if ledger is not None:
                    ledger.record(msg.body)
            out.extend(batch)
        return out

    async def receive_all(
        self, consumer: Consumer, ledger: Ledger, *, ack: bool = True
    ) -> list[Received]:
        """What ``ledger`` still expects, then whatever else comes until the quiet period
        (duplicates, strays), all recorded in it; ends early once a loss is known."""
        got = await self.collect(consumer, len(ledger.lost), ack=ack, ledger=ledger)
        extra = await self.quiet_receive(consumer, ack=ack)
        for msg in extra:
            ledger.record(msg.body)
        return got + extra

    async def receive_one(
        self,
        consumer: Consumer,
        what: str,
        *,
        ack: bool = True,
        who: str = "the consumer",
        timeout: float | None = None,
    ) -> Received:
        """The one message ``what`` names; fail saying who was to receive what, and when
        nothing came within the delivery timeout."""
        got = await self.collect(consumer, 1, ack=ack, timeout=timeout)
        if not got:
            limit = timeout if timeout is not None else self.timeout
            raise AssertionError(
                f"{who} was expected to receive {what}; nothing arrived within {limit:g}s"
            )
        return got[0]

    @property
    def confirm(self) -> float:
        """Seconds a per-key order proof of a loss must hold before a wait gives up."""
        return max(0.5, 2 * self.quiet)

    def proven_lost(self, ledger: Ledger) -> list[bytes]:
        """Messages the ledger proves lost by per-key order (where the backend keeps it)."""
        if not ledger.ordered or not self.has(Feature.KEY_ORDERING):
            return []
        return ledger.overtaken()

    async def until_delivered(
        self,
        *work: Awaitable[Any],
        arrived: Callable[[], int],
        missing: Callable[[], str],
        proven: Callable[[], Sequence[object]] = list,
        idle_rule: Callable[[], bool] = lambda: True,
    ) -> None:
        """Run receive loops that end once everything arrived; fail naming what is
        ``missing()`` as soon as a loss is known, or at the delivery timeout."""
        await until_delivered(
            work,
            timeout=self.timeout,
            grace=self.loss_grace,
            confirm=self.confirm,
            arrived=arrived,
            proven=proven,
            missing=missing,
            idle_rule=idle_rule,
        )

    async def quiet_receive(self, consumer: Consumer, *, ack: bool = True) -> list[Received]:
        """Everything that arrives until nothing has for the quiet period."""
        out: list[Received] = []
        while True:
            batch = await consumer.receive(max_messages=500, timeout=self.quiet)
            if not batch:
                return out
            for msg in batch:
                if ack:
                    await msg.ack()
            out.extend(batch)

    async def eventually(
        self,
        check: Callable[[], Awaitable[bool]],
        what: str,
        *,
        timeout: float | None = None,
        interval: float = 0.05,
        seen: Callable[[], object] | None = None,
    ) -> float:
        """Poll ``check`` until it is true; return the seconds it took, or fail naming ``what``.

        ``seen()`` is what ``check`` last saw, named in the failure; where it stays the same
        for ``loss_grace`` seconds after it changed (what was sent has settled short of
        ``what``), the wait ends then rather than at the timeout.
        """
        started = time.monotonic()
        limit = timeout if timeout is not None else self.timeout
        last: object = None
        changed = started
        while True:
            if await check():
                return time.monotonic() - started
            now = time.monotonic()
            shown = f"; last seen: {seen()!r}" if seen is not None else ""
            if now - started > limit:
                raise AssertionError(f"timed out after {limit:g}s waiting until {what}{shown}")
            if seen is not None:
                if seen() != last:
                    last, changed = seen(), now
                elif last is not None and now - changed >= self.loss_grace:
                    raise AssertionError(
                        f"gave up waiting until {what} after {now - started:.1f}s: it stayed "
                        f"{last!r} for {self.loss_grace:g}s (loss_grace)"
                    )
            await asyncio.sleep(interval)
            interval = min(interval * 1.5, 0.5)
