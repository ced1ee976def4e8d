"""The public Broker, Producer and Consumer: one API whatever the URL.

These classes own everything that must mean the same on every backend: argument checks,
serialization, size limits and capability checks happen here, before a driver is asked to
send anything, so bad input never reaches a broker and nothing is half-sent.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, ClassVar, Self

from anymq import arguments, plugins
from anymq.backend import (
    BrokerDriver,
    ConsumerDriver,
    ConsumerOptions,
    Outgoing,
    ProducerDriver,
    ProducerOptions,
    Sender,
)
from anymq.delivery import Delivery
from anymq.errors import (
    ClosedError,
    ConfigError,
    MessageTooLarge,
    SerializationError,
    UnsupportedFeature,
)
from anymq.features import Capabilities, Feature
from anymq.message import Headers, Message, Receipt, Received
from anymq.model import GroupInfo, Position, Retention, TopicInfo
from anymq.serializers import Serializer, not_bytes, resolve
from anymq.url import URL

ENV_URL = "ANYMQ_URL"


def connect(url: str | URL | None = None, **options: Any) -> Broker:
    """A broker for ``url`` (or ``$ANYMQ_URL``); use it as ``async with connect(...) as b``.

    Keyword options override the URL's query options. Nothing connects until the broker
    is entered (or ``await broker.start()``), so this never blocks.
    """
    if url is None:
        url = os.environ.get(ENV_URL)
        if not url:
            raise ConfigError(
                f"no broker URL: pass one, e.g. anymq.connect('memory://'), or set {ENV_URL}"
            )
    parsed = URL.parse(url)
    driver_cls = plugins.load_driver(parsed.scheme)
    merged: dict[str, Any] = dict(parsed.query)
    merged.update(options)
    return Broker(parsed, driver_cls(parsed, merged))


class _Lifecycle:
    """``async with`` support and idempotent close for every client."""

    _started = False
    _closed = False

    async def start(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError(f"{self!r} is closed")
        if not self._started:
            raise ClosedError(f"{self!r} is not started; use it with 'async with'")

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class Broker(_Lifecycle):
    """A connection to a broker: topics, groups, and a factory for producers and consumers."""

    # What producer() and consumer() make. anymq.otel.instrument() puts traced subclasses
    # here, so a process that never instruments runs the plain classes at no cost per message.
    producer_class: ClassVar[type[Producer]]
    consumer_class: ClassVar[type[Consumer]]

    def __init__(self, url: URL, driver: BrokerDriver) -> None:
        self.url = url
        self.driver = driver
        self._children: list[_Lifecycle] = []

    @property
    def capabilities(self) -> Capabilities:
        """What this backend guarantees and its limits."""
        return self.driver.capabilities

    @property
    def backend(self) -> str:
        return self.driver.name

    def require(self, *features: Feature) -> None:
        """Fail now with UnsupportedFeature if the backend lacks a guarantee you rely on."""
        self.capabilities.require(*features)

    async def start(self) -> None:
        if self._closed:
            raise ClosedError(f"{self!r} is closed; connect again")
        if not self._started:
            await self.driver.start()
            self._started = True

    async def close(self) -> None:
        """Close every producer and consumer made here, then the connection. Idempotent."""
        if self._closed:
            return
        self._closed = True
        children, self._children = self._children, []
        try:
            for child in reversed(children):
                await child.close()
        finally:
            if self._started:
                await self.driver.close()

    def _check_topic(self, name: str) -> str:
        return self.capabilities.topic_names.check(name)

    def _check_groups(self, groups: Sequence[str]) -> list[str]:
        """The group names to declare (duplicates dropped), all checked before anything is
        created, so a bad one leaves no topic behind."""
        if isinstance(groups, (str, bytes)) or not isinstance(groups, Sequence):
            raise ConfigError(
                f"groups must be a list of group names, got {groups!r} "
                f"(for one group: groups=[{groups!r}])"
            )
        names = list(dict.fromkeys(self.capabilities.topic_names.check(g, "group") for g in groups))
        if names:
            self.capabilities.require(Feature.DECLARED_GROUPS, detail="create_topic(groups=...)")
        return names

    async def create_topic(
        self,
        name: str,
        *,
        partitions: int = 1,
        retention: Retention | None = None,
        groups: Sequence[str] = (),
        **options: Any,
    ) -> bool:
        """Create a topic; returns False if it already existed. Idempotent.

        ``groups`` are declared right after (also on an existing topic, see
        :meth:`create_group`), so they get every message sent from then on; their names
        are checked first, so a bad one creates nothing.
        """
        self._check_open()
        self._check_topic(name)
        declare = self._check_groups(groups)
        caps = self.capabilities
        if not isinstance(partitions, int) or partitions < 1:
            raise ConfigError(f"partitions must be an int >= 1, got {partitions!r}")
        if partitions > 1:
            caps.require(Feature.PARTITIONS, detail=f"cannot create {partitions} partitions")
            if partitions > caps.max_partitions:
                raise ConfigError(
                    f"partitions={partitions} is over the {caps.backend} limit of "
                    f"{caps.max_partitions}"
                )
        retention = retention or Retention()
        if retention.time is not None:
            caps.require(Feature.RETENTION_TIME, detail="Retention(time=...)")
        if retention.bytes is not None:
            caps.require(Feature.RETENTION_BYTES, detail="Retention(bytes=...)")
        if retention.messages is not None:
            caps.require(Feature.RETENTION_MESSAGES, detail="Retention(messages=...)")
        created = await self.driver.create_topic(
            name,
            partitions=partitions,
            retention=retention,
            options=self.driver.parse_options("topic", options),
        )
        for group in declare:
            await self.driver.create_group(name, group)
        return created

    async def create_group(self, topic: str, group: str) -> bool:
        """Declare ``group`` on an existing ``topic``; False if the group already existed.

        A declared group gets every message sent after this returns, whichever ``start``
        its first consumer passes and however late it starts, so nothing sent before the
        first consumer is missing. Idempotent: an existing group keeps its position.
        TopicNotFound if the topic does not exist (it is never auto-created here).
        """
        self._check_open()
        self._check_topic(topic)
        self.capabilities.topic_names.check(group, "group")
        self.capabilities.require(Feature.DECLARED_GROUPS, detail="create_group")
        return await self.driver.create_group(topic, group)

    async def delete_topic(self, name: str) -> None:
        """Delete a topic; TopicNotFound if it does not exist."""
        self._check_open()
        self._check_topic(name)
        await self.driver.delete_topic(name)

    async def describe_topic(self, name: str) -> TopicInfo:
        """Partitions, retention and backend details of a topic."""
        self._check_open()
        self._check_topic(name)
        return await self.driver.describe_topic(name)

    async def list_topics(self) -> list[str]:
        """Topic names, sorted."""
        self._check_open()
        return sorted(await self.driver.list_topics())

    async def describe_group(self, topic: str, group: str) -> GroupInfo:
        """A group's per-partition position and backlog on ``topic``."""
        self._check_open()
        self._check_topic(topic)
        self.capabilities.topic_names.check(group, "group")
        return await self.driver.describe_group(topic, group)

    async def list_groups(self, topic: str) -> list[str]:
        """Names of the groups on ``topic`` (declared, or consumed from), sorted; consumers
        without a group are none. UnsupportedFeature where the backend cannot list them."""
        self._check_open()
        self._check_topic(topic)
        self.capabilities.require(Feature.LIST_GROUPS, detail="list_groups")
        return sorted(await self.driver.list_groups(topic))

    def producer(
        self,
        *,
        serializer: str | Serializer | None = None,
        partitioner: str = "hash",
        batch_size: int | None = None,
        linger: float | None = None,
        compression: str | None = None,
        **options: Any,
    ) -> Producer:
        """A producer; ``async with broker.producer() as p: await p.send(...)``."""
        self._check_open()
        if partitioner not in ("hash", "round_robin"):
            raise ConfigError(f"partitioner must be 'hash' or 'round_robin', got {partitioner!r}")
        if partitioner == "round_robin":
            self.capabilities.require(Feature.ROUND_ROBIN, detail="partitioner='round_robin'")
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise ConfigError(f"batch_size must be a positive int (bytes), got {batch_size!r}")
        arguments.seconds("linger", linger, none="the client's default")
        if compression is not None:
            compression = self.capabilities.codec(compression)
        opts = ProducerOptions(
            partitioner=partitioner,  # type: ignore[arg-type]
            batch_size=batch_size,
            linger=linger,
            compression=compression,
            extra=self.driver.parse_options("producer", options),
        )
        producer = self.producer_class(self, self.driver.producer(opts), resolve(serializer))
        self._children.append(producer)
        return producer

    def consumer(
        self,
        topic: str,
        group: str | None = None,
        *,
        start: str | Position = "latest",
        max_deliveries: int | None = None,
        dead_letter_topic: str | None = None,
        prefetch: int = 100,
        binding: str | None = None,
        serializer: str | Serializer | None = None,
        **options: Any,
    ) -> Consumer:
        """A consumer of ``topic``; in ``group`` members share work, without one each gets all.

        ``start`` applies where the group has no position yet (and always without a group).
        The subscription is live once ``async with`` has entered.
        """
        self._check_open()
        caps = self.capabilities
        self._check_topic(topic)
        if group is None:
            caps.require(Feature.BROADCAST, detail="consumers without a group")
        else:
            caps.topic_names.check(group, "group")
            caps.require(Feature.CONSUMER_GROUPS, detail=f"group={group!r}")
        position = Position.parse(start)
        if position.kind == "earliest" and group is None:
            caps.require(Feature.RETAINS_CONSUMED, detail="start='earliest' (reading history)")
        elif position.kind == "offset":
            caps.require(Feature.REPLAY, detail="start at an offset")
        elif position.kind == "timestamp":
            caps.require(Feature.SEEK_TIME, detail="start at a timestamp")
        if max_deliveries is not None:
            if not isinstance(max_deliveries, int) or max_deliveries < 1:
                raise ConfigError(f"max_deliveries must be an int >= 1, got {max_deliveries!r}")
            caps.require(Feature.DEAD_LETTER, detail="max_deliveries")
        if dead_letter_topic is not None:
            caps.require(Feature.DEAD_LETTER, detail="dead_letter_topic")
            self._check_topic(dead_letter_topic)
        if binding is not None:
            caps.require(Feature.ROUTING_KEYS, detail=f"binding={binding!r}")
        if not isinstance(prefetch, int) or prefetch < 1:
            raise ConfigError(f"prefetch must be an int >= 1, got {prefetch!r}")
        if max_deliveries is not None and dead_letter_topic is None:
            dead_letter_topic = self.driver.dead_letter_topic(topic, group)
        opts = ConsumerOptions(
            topic=topic,
            group=group,
            start=position,
            max_deliveries=max_deliveries,
            dead_letter_topic=dead_letter_topic,
            prefetch=prefetch,
            binding=binding,
            extra=self.driver.parse_options("consumer", options),
        )
        consumer = self.consumer_class(self, self.driver.consumer(opts), opts, resolve(serializer))
        self._children.append(consumer)
        return consumer

    def _adopt(self, child: _Lifecycle) -> None:
        if child not in self._children:
            self._children.append(child)

    def _forget(self, child: _Lifecycle) -> None:
        with contextlib.suppress(ValueError):
            self._children.remove(child)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open" if self._started else "new"
        return f"<anymq.Broker {self.url.render()} {state}>"


class _Child(_Lifecycle):
    """A producer or consumer: started through its driver, closed with its broker."""

    broker: Broker
    driver: ProducerDriver | ConsumerDriver

    async def start(self) -> None:
        """Open the driver (for a consumer: subscribe, live once this returns).

        A start that fails leaves the client unregistered from its broker (the driver has
        released what it opened), so retries do not pile up until the broker closes; a
        later successful start registers it again.
        """
        if self._closed:
            raise ClosedError(f"{self!r} is closed")
        if not self._started:
            broker = self.broker
            broker._check_open()
            broker._adopt(self)
            try:
                await self.driver.start()
            except BaseException:
                broker._forget(self)
                raise
            if self._closed:  # closed (e.g. with its broker) while starting
                await self.driver.close()
                raise ClosedError(f"{self!r} was closed while starting")
            self._started = True

    async def close(self) -> None:
        """Flush or leave, then close the driver. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.broker._forget(self)
        if self._started:
            await self.driver.close()


class Producer(_Child):
    """Sends messages to topics; each send returns once the broker has the message."""

    driver: ProducerDriver

    def __init__(self, broker: Broker, driver: ProducerDriver, serializer: Serializer | None):
        self.broker = broker
        self.driver = driver
        self.serializer = serializer
        caps = broker.capabilities
        self._caps = caps
        self._limit = caps.max_message_bytes
        self._meta_limit = caps.max_metadata_bytes
        # Below this a bytes value + bytes key passes both limits with one comparison.
        self._fast_limit = min(self._limit, self._meta_limit)
        self._senders: dict[str, Sender] = {}
        """The driver's sender per topic whose name was checked."""
        self._partitions = Feature.PARTITIONS in caps.features

    def _topic(self, topic: str) -> Sender:
        sender = self._senders.get(topic)
        if sender is None:
            self._caps.topic_names.check(topic)
            sender = self._senders[topic] = self.driver.sender(topic)
        return sender

    def _prepare(
        self,
        value: Any,
        key: bytes | str | None,
        headers: Headers | None,
        partition: int | None,
        routing_key: str | None,
        delay: float | None,
    ) -> Outgoing:
        if (
            type(value) is bytes
            and headers is None
            and key is None
            and partition is None
            and routing_key is None
            and delay is None
            and self.serializer is None
        ):
            if len(value) > self._limit:
                raise MessageTooLarge(len(value), self._limit, self._caps.backend)
            return Outgoing(value, None, None, None, None, None, len(value))
        if self.serializer is not None:
            value = self.serializer.dumps(value)
        elif type(value) is not bytes:
            if isinstance(value, (bytearray, memoryview)):
                value = bytes(value)
            else:
                raise not_bytes(value)
        size = len(value)
        meta = 0
        if key is not None:
            if type(key) is str:
                key = _utf8(key, "message key", SerializationError)
            elif type(key) is not bytes:
                raise SerializationError(
                    f"message key must be bytes or str, got {type(key).__name__}"
                )
            meta = len(key)
        encoded: dict[str, bytes] | None = None
        if headers:
            encoded, raw, count = _encode_headers(headers, self._caps)
            size += raw
            meta += raw + count * self._caps.headers.overhead
        size += len(key) if key is not None else 0
        if size > self._limit:
            raise MessageTooLarge(size, self._limit, self._caps.backend)
        if meta > self._meta_limit:
            self._too_much_metadata(meta)
        if partition is not None:
            if not self._partitions:
                self._caps.require(Feature.PARTITIONS, detail="sending to a chosen partition")
            if not isinstance(partition, int) or partition < 0:
                raise ConfigError(f"partition must be an int >= 0, got {partition!r}")
        if routing_key is not None:
            self._caps.require(Feature.ROUTING_KEYS, detail="routing_key")
            if not isinstance(routing_key, str):
                raise ConfigError(f"routing_key must be a str, got {routing_key!r}")
        if delay is not None:
            self._caps.require(Feature.DELAYED_DELIVERY, detail="delay")
            arguments.seconds("delay", delay)
        return Outgoing(value, key, encoded, partition, routing_key, delay, size)

    def send(
        self,
        topic: str,
        value: Any,
        *,
        key: bytes | str | None = None,
        headers: Headers | None = None,
        partition: int | None = None,
        routing_key: str | None = None,
        delay: float | None = None,
    ) -> Awaitable[Receipt]:
        """Send one message; awaiting it returns the receipt once the broker has it.

        A plain method returning the driver's coroutine (one coroutine frame per message
        instead of two); bad input raises at the call, before anything is sent.
        """
        if not self._started or self._closed:
            self._check_open()
        try:  # a subscript, not .get(): no method call on the per-message path
            sender = self._senders[topic]
        except KeyError:
            sender = self._topic(topic)
        if (
            type(value) is bytes
            and self.serializer is None
            and headers is None
            and partition is None
            and routing_key is None
            and delay is None
            and (key is None or type(key) is bytes)
        ):  # the common case, kept cheap: no per-message work beyond the size check
            size = len(value) + (len(key) if key is not None else 0)
            if size > self._fast_limit:
                if size > self._limit:
                    raise MessageTooLarge(size, self._limit, self._caps.backend)
                if key is not None and len(key) > self._meta_limit:
                    self._too_much_metadata(len(key))
            return sender(value, key, size)
        out = self._prepare(value, key, headers, partition, routing_key, delay)
        return self.driver.send(topic, out)

    def _too_much_metadata(self, size: int) -> None:
        caps = self._caps
        raise MessageTooLarge(
            size, self._meta_limit, caps.backend, part="metadata", why=caps.headers.metadata_limit
        )

    async def send_batch(self, topic: str, messages: Iterable[Message | bytes]) -> list[Receipt]:
        """Send many messages; all are checked first, so a bad one means none are sent."""
        self._check_open()
        self._topic(topic)
        prepared: list[Outgoing] = []
        for index, item in enumerate(messages):
            if not isinstance(item, Message):
                item = Message(item)
            try:
                prepared.append(
                    self._prepare(
                        item.value,
                        item.key,
                        item.headers,
                        item.partition,
                        item.routing_key,
                        item.delay,
                    )
                )
            except (SerializationError, MessageTooLarge, ConfigError) as exc:
                exc.args = (f"message {index} of the batch: {exc}; nothing was sent",)
                raise
        receipts: list[Receipt] = []
        step = self._caps.max_batch
        for i in range(0, len(prepared), step):
            receipts.extend(await self.driver.send_batch(topic, prepared[i : i + step]))
        return receipts

    async def flush(self) -> None:
        """Wait until everything sent so far is confirmed by the broker."""
        self._check_open()
        await self.driver.flush()

    def __repr__(self) -> str:
        return f"<anymq.Producer {self.broker.url.render()}>"


def _encode_headers(headers: Headers, caps: Capabilities) -> tuple[dict[str, bytes], int, int]:
    """Header values as bytes, plus the bytes of names + values and the header count.

    Names are checked against the backend's rule here, so a name the broker would cut,
    overwrite or drop is refused before anything is sent.
    """
    if not isinstance(headers, Mapping):
        raise ConfigError(f"headers must be a mapping of str to str/bytes, got {headers!r}")
    if caps.max_headers is not None and len(headers) > caps.max_headers:
        raise ConfigError(
            f"{len(headers)} headers is over the {caps.backend} limit of {caps.max_headers}"
        )
    rule = caps.headers
    longest = rule.max_name_bytes
    out: dict[str, bytes] = {}
    raw = 0
    for name, value in headers.items():
        if not isinstance(name, str) or not name:
            raise ConfigError(f"header names must be non-empty str, got {name!r}")
        if rule.reserved_name(name):
            raise ConfigError(
                f"header name {name!r} is reserved on {caps.backend}: {rule.why_reserved}; "
                "nothing was sent. Use another name"
            )
        name_bytes = len(name) if name.isascii() else len(_utf8(name, "header name", ConfigError))
        if longest is not None and name_bytes > longest:
            raise ConfigError(
                f"header name {name[:40]!r}... is {name_bytes} bytes, over the {caps.backend} "
                f"limit of {longest} bytes (longer names would be cut and could collide); "
                "nothing was sent"
            )
        if isinstance(value, str):
            encoded = _utf8(value, f"header {name!r}", SerializationError)
        elif isinstance(value, (bytes, bytearray, memoryview)):
            encoded = bytes(value)
        else:
            raise SerializationError(
                f"header {name!r} must be str or bytes, got {type(value).__name__}"
            )
        out[name] = encoded
        raw += name_bytes + len(encoded)
    return out, raw, len(out)


def _utf8(text: str, what: str, error: type[ConfigError | SerializationError]) -> bytes:
    """``text`` as UTF-8, or an anymq error naming the field (lone surrogates cannot be sent)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise error(
            f"{what} {text!r} is not valid Unicode text ({exc.reason} at position "
            f"{exc.start}); pass bytes or a str without lone surrogates. Nothing was sent"
        ) from exc


class Consumer(_Child):
    """A live subscription: ``async for msg in consumer`` or ``await consumer.receive()``."""

    driver: ConsumerDriver
    delivery_class: ClassVar[type[Delivery]] = Delivery
    """Settles for this consumer; anymq.otel's subclass also counts acks, retries, dead letters."""

    def __init__(
        self,
        broker: Broker,
        driver: ConsumerDriver,
        options: ConsumerOptions,
        serializer: Serializer | None,
    ) -> None:
        self.broker = broker
        self.driver = driver
        self.delivery = self.delivery_class(driver, options, broker.capabilities)
        self.options = options
        self.serializer = serializer
        self._buffer: deque[Received] = deque()

    async def start(self) -> None:
        """Subscribe (see :meth:`_Child.start`). ``start="earliest"`` on a backend that keeps
        no history (no Feature.RETAINS_CONSUMED) means "what waits in the group's queue",
        which only a group that already exists has: a brand-new one is refused before
        anything is created, so nothing from before is ever silently missing."""
        opts = self.options
        if (
            not self._started
            and not self._closed
            and opts.group is not None
            and opts.start.kind == "earliest"
            and Feature.RETAINS_CONSUMED not in self.broker.capabilities
        ):
            self.broker._check_open()
            if not await self.broker.driver.group_exists(opts.topic, opts.group):
                raise UnsupportedFeature(
                    Feature.RETAINS_CONSUMED.value,
                    self.broker.backend,
                    f"start='earliest' on the new group {opts.group!r} (nothing from before it "
                    "exists); declare it first with create_group, or use start='latest'",
                )
        await super().start()

    @property
    def topic(self) -> str:
        return self.options.topic

    @property
    def group(self) -> str | None:
        return self.options.group

    @property
    def dead_letter_topic(self) -> str | None:
        """Where messages go after max_deliveries attempts (None without max_deliveries)."""
        return self.options.dead_letter_topic

    async def close(self) -> None:
        """Leave; unsettled messages go back to the group for redelivery. Idempotent."""
        self.delivery.close()  # at once: settling is refused from the start of close
        self._buffer.clear()
        await super().close()

    def _decode(self, batch: list[Received]) -> list[Received]:
        serializer = self.serializer
        if serializer is not None:
            for msg in batch:
                try:
                    msg.value = serializer.loads(msg.body)
                except Exception as exc:
                    error = SerializationError(
                        f"cannot decode message {msg!r}: {exc}; nack it or fix the producer"
                    )
                    error.message = msg  # type: ignore[attr-defined]
                    raise error from exc
        return batch

    def __aiter__(self) -> AsyncIterator[Received]:
        return self

    async def __anext__(self) -> Received:
        buffer = self._buffer
        if buffer:
            return buffer.popleft()
        if self._closed:
            raise StopAsyncIteration
        self._check_open()
        while not buffer:
            batch = await self.delivery.receive(self.options.prefetch, None)
            if self._closed:
                raise StopAsyncIteration
            buffer.extend(self._decode(batch) if self.serializer else batch)
        return buffer.popleft()

    async def receive(self, max_messages: int = 100, timeout: float | None = 1.0) -> list[Received]:
        """Up to ``max_messages``, waiting at most ``timeout`` seconds for the first one."""
        self._check_open()
        arguments.count("max_messages", max_messages)
        arguments.seconds("timeout", timeout, none="wait until a message arrives")
        out: list[Received] = []
        buffer = self._buffer
        while buffer and len(out) < max_messages:
            out.append(buffer.popleft())
        if len(out) < max_messages:
            wait = 0 if out else timeout
            batch = await self.delivery.receive(max_messages - len(out), wait)
            out.extend(self._decode(batch) if self.serializer else batch)
        return out

    async def ack_many(self, messages: Iterable[Received]) -> None:
        """Ack a batch in one go (one request where the broker allows it)."""
        delivery = self.delivery
        pending = [m for m in messages if not m._settled]
        if {m._delivery for m in pending} - {delivery}:  # checked before anything is settled
            stranger = next(m for m in pending if m._delivery is not delivery)
            raise ConfigError(f"{stranger!r} was not delivered by this consumer")
        if pending:
            await delivery.ack_many(pending)

    async def seek(self, position: Position | str) -> None:
        """Move this consumer (and its group) to ``position``: replay or skip ahead."""
        self._check_open()
        position = Position.parse(position)
        caps = self.broker.capabilities
        if position.kind == "timestamp":
            caps.require(Feature.SEEK_TIME, detail="seek to a timestamp")
        else:
            caps.require(Feature.REPLAY, detail=f"seek to {position.kind}")
        self._buffer.clear()
        self.delivery.ready.clear()  # redeliveries from before the seek are void
        await self.driver.seek(position)

    def runtime_trace(self, handler: str) -> Callable[[Received], Callable[[], None]] | None:
        """For the runtime (anymq.App): a function that opens the process span of a message
        (and returns what closes it), or None when this consumer is not traced (anymq.otel)."""
        return None

    def __repr__(self) -> str:
        group = self.options.group or "(no group)"
        return f"<anymq.Consumer {self.options.topic} {group} {self.broker.url.render()}>"


Broker.producer_class = Producer
Broker.consumer_class = Consumer
