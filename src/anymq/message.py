"""Messages going out (Message), confirmations (Receipt) and messages coming in (Received).

A message is headers plus a body: ``value`` is the body (bytes unless a serializer is set),
``key`` picks the partition and the order domain, ``headers`` carry metadata. Received
messages are acknowledged through the consumer that delivered them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Generator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from anymq.errors import ClosedError

if TYPE_CHECKING:
    from anymq.delivery import Delivery

HeaderValue = str | bytes
Headers = Mapping[str, HeaderValue]


@dataclass(frozen=True, slots=True)
class Message:
    """A message to send; ``value`` must be bytes unless the producer has a serializer."""

    value: Any
    key: bytes | str | None = None
    headers: Headers | None = None
    partition: int | None = None
    """Send to this partition instead of asking the partitioner."""
    routing_key: str | None = None
    """Routing key for brokers that route by key (RabbitMQ); needs Feature.ROUTING_KEYS."""
    delay: float | None = None
    """Seconds before the message becomes visible; needs Feature.DELAYED_DELIVERY."""


class Receipt(NamedTuple):
    """The broker has the message: where it was stored (a NamedTuple: cheap per send)."""

    topic: str
    partition: int | None = None
    offset: int | None = None
    message_id: str | None = None


# An exhausted iterator: awaiting it returns None at once, and it can be shared. Typed as
# the generator that Awaitable's protocol asks for (await only calls next() on it).
_FINISHED = cast("Generator[None, None, None]", iter(()))


class _Done:
    """An awaitable that is already finished (settling a settled message).

    ``__await__`` hands out one shared exhausted iterator instead of making a generator per
    await, which is measurable on the one-ack-per-message consume path.
    """

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        return _FINISHED


DONE = _Done()
"""An awaitable that is already complete; drivers that settle synchronously return it."""


def refused(what: str) -> ClosedError:
    """The one error for settling through a closed consumer; the message stays unsettled."""
    return ClosedError(
        f"the consumer that delivered this message is closed, so the {what} was refused; "
        "the message stays unsettled and will be redelivered to its group"
    )


class Received:
    """A message delivered to a consumer; settle it with ``ack()`` or ``nack()``.

    ``delivery_count`` is 1 on the first delivery and grows with each redelivery. Settling
    twice is a no-op, so ``finally: await msg.ack()`` patterns are safe.
    """

    __slots__ = (
        "_delivery",
        "_headers",
        "_settled",
        "body",
        "delivery_count",
        "handle",
        "key",
        "message_id",
        "offset",
        "partition",
        "timestamp_ms",
        "topic",
        "value",
    )

    def __init__(
        self,
        body: bytes,
        key: bytes | None,
        headers: dict[str, bytes] | Sequence[tuple[str, bytes | None]],
        topic: str,
        partition: int | None,
        offset: int | None,
        timestamp_ms: int | None,
        delivery_count: int,
        message_id: str | None = None,
        handle: Any = None,
        delivery: Delivery | None = None,
    ) -> None:
        self.value: Any = body
        self.body = body
        self.key = key
        self._headers = headers
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.timestamp_ms = timestamp_ms
        self.delivery_count = delivery_count
        self.message_id = message_id
        self.handle = handle
        """Backend data needed to settle the message (delivery tag, receipt handle, ...)."""
        self._delivery = delivery
        """The consumer's :class:`~anymq.delivery.Delivery`, through which it settles."""
        self._settled = False

    @property
    def headers(self) -> dict[str, bytes]:
        """The message's headers. Backends may hand over the wire's (name, value) pairs;
        they become a dict on first read, so messages nobody inspects cost no dict."""
        headers = self._headers
        if isinstance(headers, dict):
            return headers
        converted = {k: v if v is not None else b"" for k, v in headers}
        self._headers = converted
        return converted

    @headers.setter
    def headers(self, value: dict[str, bytes]) -> None:
        self._headers = value

    @property
    def timestamp(self) -> datetime | None:
        """When the broker (or producer) stamped the message, in UTC."""
        if self.timestamp_ms is None:
            return None
        return datetime.fromtimestamp(self.timestamp_ms / 1000, tz=UTC)

    @property
    def settled(self) -> bool:
        """True once ack() or nack() has been called."""
        return self._settled

    def ack(self) -> Awaitable[None]:
        """Processing succeeded: the message will not be delivered to this group again.

        Returns the driver's awaitable directly (no extra frame on the consume hot path).
        """
        if self._settled:
            return DONE
        delivery = self._delivery
        if delivery is None:
            raise ClosedError("this message was not delivered by a consumer; nothing to ack")
        if delivery.closed:
            raise refused("ack")
        self._settled = True
        return delivery.ack_one(self) or DONE

    async def nack(self, *, requeue: bool = True, delay: float | None = None) -> None:
        """Processing failed: redeliver (``requeue=True``, after ``delay`` seconds) or
        dead-letter / drop it. A nack that is refused or fails settles nothing."""
        if self._settled:
            return
        delivery = self._delivery
        if delivery is None:
            raise ClosedError("this message was not delivered by a consumer; nothing to nack")
        await delivery.nack(self, requeue, delay)

    def __repr__(self) -> str:
        where = f"{self.topic}[{self.partition}]@{self.offset}"
        size = len(self.body)
        return f"<Received {where} key={self.key!r} {size}B delivery={self.delivery_count}>"
