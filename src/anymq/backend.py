"""The small interface a backend implements; the public API in ``anymq.client`` wraps it.

Validation, serialization, size limits and capability checks happen once in the public
layer, so a driver only moves prepared bytes. A backend provides three classes:

- :class:`BrokerDriver`: connection, topics, groups; makes producers and consumers.
- :class:`ProducerDriver`: sends prepared messages and returns receipts.
- :class:`ConsumerDriver`: a live subscription that hands out :class:`~anymq.Received`
  messages and settles them.

Every ``close()`` must be idempotent and every backend exception mapped onto
``anymq.errors`` with ``raise ... from exc``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from anymq.features import Capabilities
from anymq.message import DONE, Receipt, Received
from anymq.model import GroupInfo, Position, Retention, TopicInfo
from anymq.options import Options, Scope
from anymq.url import URL

if TYPE_CHECKING:
    from anymq.delivery import Delivery

Partitioner = Literal["hash", "round_robin"]
Sender = Callable[[bytes, bytes | None, int], Awaitable[Receipt]]
"""Sends a plain message (value, key, size in bytes) to the topic it was made for."""


class Outgoing:
    """A message ready for the wire: bytes only, already validated against the limits."""

    __slots__ = ("delay", "headers", "key", "partition", "routing_key", "size", "value")

    def __init__(
        self,
        value: bytes,
        key: bytes | None = None,
        headers: dict[str, bytes] | None = None,
        partition: int | None = None,
        routing_key: str | None = None,
        delay: float | None = None,
        size: int = 0,
    ) -> None:
        self.value = value
        self.key = key
        self.headers = headers
        self.partition = partition
        self.routing_key = routing_key
        self.delay = delay
        self.size = size


@dataclass(frozen=True, slots=True)
class ProducerOptions:
    """Producer settings common to all backends; ``extra`` holds backend-specific ones."""

    partitioner: Partitioner = "hash"
    batch_size: int | None = None
    """Bytes per batch where the client batches (Kafka batch.size)."""
    linger: float | None = None
    """Seconds to wait for a batch to fill (Kafka linger.ms / 1000)."""
    compression: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ConsumerOptions:
    """Consumer settings common to all backends; ``extra`` holds backend-specific ones."""

    topic: str
    group: str | None = None
    start: Position = field(default_factory=Position.latest)
    max_deliveries: int | None = None
    dead_letter_topic: str | None = None
    prefetch: int = 100
    binding: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


class BrokerDriver(ABC):
    """A connection to one broker (or cluster)."""

    #: Short backend name used in errors, e.g. "kafka".
    name: str = "backend"
    capabilities: Capabilities
    #: The backend's option declarations (anymq.options); None: the driver checks its own.
    declared: ClassVar[type[Options] | None] = None

    def __init__(self, url: URL, options: Mapping[str, Any]) -> None:
        self.url = url
        self.options: Mapping[str, Any] = (
            self.declared.parse(options) if self.declared is not None else dict(options)
        )

    def parse_options(self, scope: Scope, given: Mapping[str, Any]) -> Mapping[str, Any]:
        """Producer / consumer / topic options checked against the declarations, before
        anything is sent; options given at connect are their defaults."""
        if self.declared is None:
            return given
        return self.declared.parse(given, scope, defaults=self.options)

    @abstractmethod
    async def start(self) -> None:
        """Connect; raise BrokerUnavailable after a bounded timeout."""

    @abstractmethod
    async def close(self) -> None:
        """Disconnect; idempotent."""

    @abstractmethod
    async def create_topic(
        self, name: str, *, partitions: int, retention: Retention, options: Mapping[str, Any]
    ) -> bool:
        """Create a topic; return False if it already existed (idempotent)."""

    @abstractmethod
    async def delete_topic(self, name: str) -> None:
        """Delete a topic and what the backend created for it; TopicNotFound if missing."""

    @abstractmethod
    async def describe_topic(self, name: str) -> TopicInfo:
        """Partitions and retention of a topic; TopicNotFound if missing."""

    @abstractmethod
    async def list_topics(self) -> list[str]:
        """Names of the topics on the broker (without internal ones)."""

    @abstractmethod
    async def describe_group(self, topic: str, group: str) -> GroupInfo:
        """A group's position and backlog on a topic."""

    async def create_group(self, topic: str, group: str) -> bool:
        """Declare ``group`` on the existing ``topic`` at its current end (Kafka: commit the
        log end offsets; queue brokers: declare and bind its queues); False if it existed,
        whose position stays as it is. TopicNotFound if the topic is missing (never
        auto-created). Backends declaring Feature.DECLARED_GROUPS override this, ideally
        through the same function a consumer's start uses to declare its group."""
        raise NotImplementedError

    async def list_groups(self, topic: str) -> list[str]:
        """Names of the groups on ``topic``: declared or consumed from, not groupless
        consumers, no group of another topic; TopicNotFound if the topic is missing.
        Backends declaring Feature.LIST_GROUPS override this."""
        raise NotImplementedError

    async def group_exists(self, topic: str, group: str) -> bool:
        """Whether ``group`` exists on ``topic`` (declared or used before). Asked only of
        backends without Feature.RETAINS_CONSUMED, for ``start="earliest"``: an existing
        group reads what waits for it, a new one is refused. The default (False) refuses."""
        return False

    @abstractmethod
    def producer(self, options: ProducerOptions) -> ProducerDriver:
        """A producer; not started yet."""

    @abstractmethod
    def consumer(self, options: ConsumerOptions) -> ConsumerDriver:
        """A consumer; not started yet."""

    def dead_letter_topic(self, topic: str, group: str | None) -> str:
        """Where dead letters of ``topic`` go by default (Spring Kafka's naming)."""
        return f"{topic}.DLT"


class ProducerDriver(ABC):
    """Sends prepared messages."""

    async def start(self) -> None:
        """Open what sending needs (connections, channels)."""

    @abstractmethod
    async def send(self, topic: str, message: Outgoing) -> Receipt:
        """Send one message and return once the broker has it."""

    def sender(self, topic: str) -> Sender:
        """What ``Producer.send`` calls for a plain message to ``topic`` (bytes value, an
        optional key, nothing else), fetched once per topic: :meth:`send` with an Outgoing,
        or something cheaper with the same effect. Building the Outgoing is a tenth of the
        memory log's produce-and-consume cost per message, so it may skip that."""
        send = self.send

        def plain(value: bytes, key: bytes | None, size: int) -> Awaitable[Receipt]:
            return send(topic, Outgoing(value, key, None, None, None, None, size))

        return plain

    async def send_batch(self, topic: str, messages: Sequence[Outgoing]) -> list[Receipt]:
        """Send many; the default sends one by one. Backends override with a real batch path."""
        return [await self.send(topic, m) for m in messages]

    async def flush(self) -> None:
        """Wait until everything sent so far is confirmed."""

    @abstractmethod
    async def close(self) -> None:
        """Flush and disconnect; idempotent."""


class ConsumerDriver(ABC):
    """A live subscription: fetches messages and settles them as it is told.

    The policy (closed checks, when to requeue, delay or dead-letter, dead-letter headers,
    client-side redelivery) is :class:`anymq.delivery.Delivery`'s; a driver supplies the
    primitives below and says which ones its broker does natively.
    """

    delivery: Delivery
    """Set by the public Consumer before start; drivers hand it to every Received."""

    native_requeue: ClassVar[bool] = False
    """True: :meth:`requeue` hands a message back to the broker. False: Delivery keeps it
    and hands it out again through :meth:`again` (the driver must then end a waiting
    :meth:`receive` on :meth:`wake`)."""
    native_delay: ClassVar[bool] = False
    """True: :meth:`requeue` honours a delay itself; else Delivery waits client-side."""
    native_limit: ClassVar[bool] = False
    """True: the broker dead-letters a message that comes back unsettled past
    max_deliveries (SQS redrive); else Delivery does it when the message is fetched."""
    native_dead_letters: ClassVar[bool] = False
    """True: the broker counts deliveries and dead-letters rejected messages itself;
    Delivery then only requeues or rejects."""

    @abstractmethod
    async def start(self) -> None:
        """Subscribe; return only once a message sent after this returns will be received."""

    @abstractmethod
    async def receive(self, max_messages: int, timeout: float | None) -> list[Received]:
        """Fetch up to max_messages; waits up to timeout seconds (None: until one arrives)."""

    @abstractmethod
    def ack(self, message: Received) -> Awaitable[None] | None:
        """The group is done with this message. None when settled synchronously (the
        one-ack-per-message hot path: a driver may just note it and settle in bulk)."""

    def acker(self) -> Callable[[Received], Awaitable[None] | None]:
        """What ``Received.ack()`` calls, fetched once per consumer: :meth:`ack`, or something
        cheaper with the same effect (Kafka: the append of a list it settles in bulk)."""
        return self.ack

    async def ack_many(self, messages: Sequence[Received]) -> None:
        """Ack several; backends with a batch call override this."""
        for message in messages:
            await (self.ack(message) or DONE)

    def requeue(self, message: Received, delay: float | None) -> Awaitable[None]:
        """Hand the message back to the broker for redelivery (see native_requeue)."""
        raise NotImplementedError

    def holds(self, message: Received) -> bool:
        """False when the message is no longer this consumer's to settle (its partition
        was reassigned or sought past): a nack of it then changes nothing."""
        return True

    def again(self, message: Received) -> Received | None:
        """The client-side redelivery of a requeued message (delivery_count + 1), or None
        when it may no longer be delivered here (its partition moved on)."""
        return Received(
            message.body,
            message.key,
            dict(message.headers),
            message.topic,
            message.partition,
            message.offset,
            message.timestamp_ms,
            message.delivery_count + 1,
            message.message_id,
            message.handle,
            message._delivery,
        )

    def wake(self) -> None:
        """A client-side redelivery is due: end a waiting receive (see native_requeue)."""

    def partitions_held(self) -> tuple[int, ...] | None:
        """The partitions this member holds now, for health checks; None where the backend
        does not tell (a queue has no partitions a member could hold)."""
        return None

    async def dead_letter(self, message: Received, topic: str, headers: dict[str, bytes]) -> None:
        """Publish the message to the dead-letter topic with ``headers``; Delivery acks it
        afterwards. Raise (mapped) when it was not published: the message stays unsettled."""
        raise NotImplementedError

    async def reject(self, message: Received) -> None:
        """Drop the message (nacked without requeue, no dead-letter topic); default: ack."""
        await (self.ack(message) or DONE)

    async def seek(self, position: Position) -> None:
        """Move the position; backends with Feature.REPLAY override this."""
        raise NotImplementedError

    @abstractmethod
    async def close(self) -> None:
        """Leave the group; unsettled messages go back to it. Idempotent."""
