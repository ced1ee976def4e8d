"""What one contract test needs: a URL, unique names, helpers, cleanup and observations."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import anymq
from anymq.client import Broker, Consumer
from anymq.errors import AnyMQError
from anymq.features import Capabilities, Feature
from anymq.message import Received
from anymq.model import Retention


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
        slug = re.sub(r"[^A-Za-z0-9]+", "-", test_name.removeprefix("test_"))[:24].strip("-")
        self._slug = f"{slug}-{uuid.uuid4().hex[:8]}"
        self.outcome = "passed"
        """Set to "unsupported" when the test asserted a refusal instead of the behaviour."""
        self.quiet: float = settings["quiet_period"]
        self.timeout: float = settings["delivery_timeout"]

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
    ) -> list[Received]:
        """Receive until ``count`` messages arrived (acking them) or the timeout passes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (timeout if timeout is not None else self.timeout)
        out: list[Received] = []
        while len(out) < count:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            batch = await consumer.receive(
                max_messages=count - len(out), timeout=min(remaining, 1.0)
            )
            for msg in batch:
                if ack:
                    await msg.ack()
            out.extend(batch)
        return out

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
    ) -> float:
        """Poll ``check`` until it is true; return the seconds it took, or fail naming ``what``."""
        started = time.monotonic()
        limit = timeout if timeout is not None else self.timeout
        while True:
            if await check():
                return time.monotonic() - started
            if time.monotonic() - started > limit:
                raise AssertionError(f"timed out after {limit:g}s waiting until {what}")
            await asyncio.sleep(interval)
            interval = min(interval * 1.5, 0.5)
