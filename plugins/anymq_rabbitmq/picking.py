"""A consumer whose driver depends on the topic, which is known only once ``start`` has read
the registry (is the topic partitioned?). Subclasses pick and start the driver; this class
forwards every call to it. The ``native_*`` flags are the subclass's: both drivers it may
pick must agree on them (Delivery reads them before ``start``)."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence

from anymq.backend import ConsumerDriver
from anymq.errors import ClosedError
from anymq.message import Received
from anymq.model import Position


class PickingConsumer(ConsumerDriver):
    """Forwards to ``inner``, the driver the subclass's ``start`` picked and started."""

    def __init__(self) -> None:
        self.inner: ConsumerDriver | None = None
        self.closed = False

    def _driver(self) -> ConsumerDriver:
        if self.inner is None:
            raise ClosedError("consumer is not started")
        return self.inner

    async def _started(self, inner: ConsumerDriver, start: Awaitable[None]) -> None:
        """Adopt ``inner`` once ``start`` (its start) has run."""
        await start
        self.inner = inner
        if self.closed:
            await inner.close()

    async def receive(self, max_messages: int, timeout: float | None) -> list[Received]:
        return await self._driver().receive(max_messages, timeout)

    # ack and requeue return the picked driver's awaitable: no extra coroutine per message.
    def ack(self, message: Received) -> Awaitable[None] | None:
        return self._driver().ack(message)

    def requeue(self, message: Received, delay: float | None) -> Awaitable[None]:
        return self._driver().requeue(message, delay)

    async def ack_many(self, messages: Sequence[Received]) -> None:
        await self._driver().ack_many(messages)

    async def reject(self, message: Received) -> None:
        await self._driver().reject(message)

    def holds(self, message: Received) -> bool:
        return self._driver().holds(message)

    def again(self, message: Received) -> Received | None:
        return self._driver().again(message)

    def wake(self) -> None:
        if self.inner is not None:
            self.inner.wake()

    async def dead_letter(self, message: Received, topic: str, headers: dict[str, bytes]) -> None:
        await self._driver().dead_letter(message, topic, headers)

    async def seek(self, position: Position) -> None:
        await self._driver().seek(position)

    async def close(self) -> None:
        self.closed = True
        if self.inner is not None:
            await self.inner.close()
