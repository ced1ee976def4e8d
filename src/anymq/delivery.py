"""The consuming side's policy, written once: closed checks, the nack decision, dead letters,
client-side redelivery and delays (the idea of kombu's virtual ``QoS``: one shared object
holds the delivery state, a transport only moves messages).

A :class:`Delivery` belongs to one consumer. ``Received.ack()`` / ``nack()`` and
``Consumer.ack_many()`` go through it, so a message is refused the same way on every backend
and a refused or failed settle leaves it unsettled. The driver supplies primitives only
(see :class:`~anymq.backend.ConsumerDriver`): fetch (``receive``), ``ack`` / ``ack_many``,
``requeue`` where the broker redelivers natively, ``dead_letter`` (publish), ``reject``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING

from anymq.arguments import seconds
from anymq.deadletter import LIMIT_EXCEEDED, headers_for
from anymq.errors import ConfigError
from anymq.features import Capabilities, Feature
from anymq.message import DONE, Received, refused

if TYPE_CHECKING:
    from anymq.backend import ConsumerDriver, ConsumerOptions


class Delivery:
    """One consumer's settle state and nack policy; its driver only moves messages."""

    __slots__ = (
        "_requeues",
        "_timers",
        "ack_one",
        "capabilities",
        "closed",
        "dead_letter_topic",
        "driver",
        "group",
        "limit",
        "ready",
    )

    def __init__(
        self, driver: ConsumerDriver, options: ConsumerOptions, capabilities: Capabilities
    ) -> None:
        self.driver = driver
        self.capabilities = capabilities
        self.closed = False
        self.group = options.group
        self.dead_letter_topic = options.dead_letter_topic
        self.limit = None if driver.native_dead_letters else options.max_deliveries
        self.ack_one = driver.acker()
        """The driver's ack, bound once: ``Received.ack()`` calls it directly (hot path)."""
        self.ready: deque[Received] = deque()
        """Client-side redeliveries that are due, handed out before anything is fetched."""
        self._timers: dict[int, asyncio.TimerHandle] = {}
        """Delayed client-side redeliveries by ``id(message)`` (a settled message has one)."""
        self._requeues: set[asyncio.Future[None]] = set()
        """Native requeues of delayed nacks that came due, while they run."""
        driver.delivery = self

    # -- receiving ---------------------------------------------------------------------
    async def receive(self, max_messages: int, timeout: float | None) -> list[Received]:
        """Due redeliveries first, else a fetch; messages past the delivery limit that came
        back unsettled (their consumer closed or died) are dead-lettered, not handed out."""
        ready = self.ready
        if not ready:
            out = await self.driver.receive(max_messages, timeout)
            if out or not ready:  # a fetch ends early when a redelivery becomes due
                if self.limit is not None and out and not self.driver.native_limit:
                    out = await self._within_limit(out)
                return out
        out = []
        again = self.driver.again
        while ready and len(out) < max_messages:
            message = again(ready.popleft())
            if message is not None:
                out.append(message)
        return out

    async def _within_limit(self, batch: list[Received]) -> list[Received]:
        limit = self.limit
        assert limit is not None
        kept = []
        for message in batch:
            if message.delivery_count > limit:
                await self._dead(message, f"delivery limit of {limit} exceeded")
            else:
                kept.append(message)
        return kept

    # -- settling ----------------------------------------------------------------------
    async def ack_many(self, messages: Sequence[Received]) -> None:
        """Ack a batch: refused as a whole when closed, unsettled again if the driver fails."""
        if self.closed:
            raise refused("ack_many")
        for msg in messages:
            msg._settled = True
        try:
            await self.driver.ack_many(messages)
        except BaseException:
            for msg in messages:
                msg._settled = False
            raise

    async def nack(self, message: Received, requeue: bool, delay: float | None) -> None:
        """Check, then decide: requeue now or later, or dead-letter / drop."""
        if delay is not None:
            seconds("nack delay", delay, none="redeliver at once")
            caps = self.capabilities
            caps.require(Feature.NACK_DELAY, detail="nack(delay=...)")
            if delay > caps.max_nack_delay:
                raise ConfigError(
                    f"nack delay must be at most {caps.max_nack_delay:g} s, got {delay!r}; "
                    "the message stays unsettled"
                )
        if self.closed:
            raise refused("nack")
        message._settled = True
        try:
            await self._decide(message, requeue, delay)
        except BaseException:  # nothing was settled: a retry tries again
            message._settled = False
            raise

    async def dead_letter(self, message: Received, reason: str, exception: str) -> None:
        """Settle a message that can never succeed (it does not decode, say): to the
        dead-letter topic at once, whatever its delivery count, with ``reason`` and the
        ``exception`` type in the headers; without a dead-letter topic the driver rejects
        it. Like nack, a refused or failed dead-letter settles nothing."""
        if self.closed:
            raise refused("dead letter")
        message._settled = True
        try:
            if self.driver.holds(message):
                await self._dead(message, reason, exception)
        except BaseException:
            message._settled = False
            raise

    async def _decide(self, message: Received, requeue: bool, delay: float | None) -> None:
        limit = self.limit
        if not self.driver.holds(message):
            return  # it went back to the group; whoever owns it now gets it again
        if not requeue:
            await self._dead(message, "rejected without requeue")
        elif limit is not None and message.delivery_count >= limit:
            await self._dead(message, f"delivery limit of {limit} reached")
        elif delay and not self.driver.native_delay:
            handle = asyncio.get_running_loop().call_later(delay, self._due, message)
            self._timers[id(message)] = handle
        else:
            await self._requeue(message, delay)

    def _requeue(self, message: Received, delay: float | None) -> Awaitable[None]:
        if self.driver.native_requeue:
            return self.driver.requeue(message, delay)
        self.ready.append(message)
        self.driver.wake()
        return DONE

    def _due(self, message: Received) -> None:
        self._timers.pop(id(message), None)
        if not self.closed:
            pending = self._requeue(message, None)
            if pending is not DONE:
                task = asyncio.ensure_future(pending)
                self._requeues.add(task)
                task.add_done_callback(self._requeues.discard)

    async def _dead(self, message: Received, reason: str, exception: str = LIMIT_EXCEEDED) -> None:
        """Publish to the dead-letter topic (Spring Kafka's headers), then ack; without one
        (or where the broker dead-letters itself) the driver rejects the message."""
        driver = self.driver
        if self.dead_letter_topic is None or driver.native_dead_letters:
            await driver.reject(message)
            return
        headers = headers_for(message, group=self.group, reason=reason, exception=exception)
        await driver.dead_letter(message, self.dead_letter_topic, headers)
        await (self.ack_one(message) or DONE)

    def close(self) -> None:
        """Refuse every settle from now on; delayed redeliveries stay unsettled, so the
        driver's close gives them back to the group at once."""
        self.closed = True
        timers, self._timers = self._timers, {}
        for handle in timers.values():
            handle.cancel()
        self.ready.clear()
