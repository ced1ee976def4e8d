"""Stream building blocks for ``mode=stream``: readers, markers, stored positions, matching.

RabbitMQ 3.10 serves streams over AMQP 0-9-1 (``basic.consume`` with ``x-stream-offset``)
but has no way to ask for a stream's end, to learn the offset of a published message, or
to store a consumer's position. anymq fills the gaps with three small tools:

- a *marker*: a message published straight into the stream (skipped by every anymq
  reader) by a reader attached at ``next`` beforehand; when the reader sees it, everything
  before it has been read, and its offset is the current end;
- the *offset store*: the durable queue ``<topic>/<group>/offset`` holding the group's
  next offset as its only message (max-length 1, drop-head), written with confirms;
- an *offset tracker* per topic that reads the stream behind the producers, so a send's
  receipt carries the offset RabbitMQ gave the message.

Stream readers run on a connection of their own: RabbitMQ 3.10.8 may close a connection
with INTERNAL_ERROR when a reader attaches while retention deletes segments, and that
must not take producers and queue consumers down with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import Any, ClassVar

import aiormq
import aiormq.exceptions as amqp_errors
from aiormq.abc import DeliveredMessage
from pamqp import commands as spec

from anymq.errors import AnyMQError
from anymq.model import Position as Start
from anymq_rabbitmq import headers as hdr
from anymq_rabbitmq.connection import CONNECTION_ERRORS, Amqp

Position = dict[str, int]
"""A stored group position: ``{"offset": n}`` or ``{"ts": ms}`` (first message at/after)."""


def offset_of(message: DeliveredMessage) -> int:
    table = message.header.properties.headers or {}
    value = table.get(hdr.STREAM_OFFSET)
    return int(value) if isinstance(value, int) else -1


def is_marker(message: DeliveredMessage) -> bool:
    table = message.header.properties.headers
    return table is not None and hdr.MARKER in table


def offset_argument(position: Position) -> Any:
    """The ``x-stream-offset`` that starts at or before ``position``."""
    if "offset" in position:
        return max(0, int(position["offset"]))  # never "first": see the module docstring
    seconds = max(0, position["ts"] // 1000 - 1)  # AMQP timestamps have second resolution
    return datetime.fromtimestamp(seconds, tz=UTC)


def oldest_kept(retention_ms: int | None) -> int | None:
    """The oldest timestamp the topic's retention keeps for anymq readers (None: all)."""
    return hdr.now_ms() - retention_ms if retention_ms else None


class Cursor:
    """Where an anymq reader of a topic's stream is, and which messages it hands on.

    In offset order from ``next_offset`` (or from the first message at/after ``ts_floor``),
    never a marker, nothing older than the topic's retention, and only what the exchange
    would route to the bindings: the pump, a reader without a group and describe_group
    count the same messages.
    """

    def __init__(self, position: Position | None = None) -> None:
        position = position or {"offset": 0}
        self.next_offset = int(position.get("offset", 0))
        self.ts_floor: int | None = position.get("ts")

    def position(self) -> Position:
        """Where to attach again to go on right after the last message passed."""
        return {"offset": self.next_offset} if self.ts_floor is None else {"ts": self.ts_floor}

    def wanted(
        self,
        message: DeliveredMessage,
        exchange_type: str,
        bindings: Iterable[str],
        oldest: int | None,
    ) -> bool:
        offset = offset_of(message)
        if offset < self.next_offset:
            return False
        self.next_offset = offset + 1
        if is_marker(message):
            return False
        ts = (message.header.properties.headers or {}).get(hdr.TIMESTAMP)
        if self.ts_floor is not None:
            if isinstance(ts, int) and ts < self.ts_floor:
                return False
            self.ts_floor = None
        if oldest is not None and isinstance(ts, int) and ts < oldest:
            return False  # older than the topic's retention: removed for anymq readers
        return routes(exchange_type, bindings, message)


class StreamReader:
    """``basic.consume`` on a stream from a position, on a plain channel; acks give credit."""

    def __init__(self, amqp: Amqp, stream: str, start: Any, prefetch: int = 500) -> None:
        self.amqp = amqp
        self.stream = stream
        self.start_at = start
        self.prefetch = prefetch
        self.channel: aiormq.abc.AbstractChannel | None = None
        self.tag: str | None = None
        self.ready: deque[DeliveredMessage] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self.error: BaseException | None = None

    async def start(self) -> None:
        """Attach; a stream still starting after a server restart is waited for (within
        ``publish_timeout``, then BrokerUnavailable), a missing one raises the 404."""
        ok = await self.amqp.while_down(self._attach, f"read the stream {self.stream!r}")
        channel = self.channel
        assert channel is not None
        self.tag = ok.consumer_tag
        channel.on_consumer_cancel_callbacks.add(self._on_cancel)
        channel.closing.add_done_callback(self._on_closed)

    async def _attach(self) -> spec.Basic.ConsumeOk:
        channel = await self.amqp.raw_channel()
        self.channel = channel
        try:
            await channel.basic_qos(prefetch_count=self.prefetch)
            return await channel.basic_consume(
                self.stream, self._on_message, arguments={"x-stream-offset": self.start_at}
            )
        except BaseException as exc:
            await self.close()  # RabbitMQ caps channels per connection: never leave one open
            if isinstance(exc, CONNECTION_ERRORS) and not isinstance(exc, AnyMQError):
                raise self.amqp.unavailable(exc, f"read the stream {self.stream!r}") from exc
            raise

    def _on_cancel(self, frame: spec.Basic.Cancel) -> None:
        if frame.consumer_tag == self.tag:  # RabbitMQ cancels readers of a deleted stream
            self.error = amqp_errors.ChannelNotFoundEntity(f"stream {self.stream!r} is gone")
            self._wake()

    def _on_closed(self, future: asyncio.Future[Any]) -> None:
        self.error = (
            future.exception() if not future.cancelled() and future.exception() else None
        ) or amqp_errors.ChannelInvalidStateError("stream channel closed")
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _on_message(self, message: DeliveredMessage) -> None:
        self.ready.append(message)
        self._wake()

    async def wait(self, timeout: float | None) -> None:
        """Until a message is ready, the channel fails, or ``timeout`` passes."""
        if self.ready:
            return
        if self.error is not None:
            raise self.error
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            return
        finally:
            self._waiter = None
        if not self.ready and self.error is not None:
            raise self.error

    def take(self, limit: int) -> list[DeliveredMessage]:
        ready = self.ready
        out: list[DeliveredMessage] = []
        while ready and len(out) < limit:
            out.append(ready.popleft())
        return out

    async def ack(self, message: DeliveredMessage) -> None:
        """Ack everything up to ``message`` (streams only count acks as credit)."""
        channel = message.channel
        if channel.is_closed:
            return
        tag = int(message.delivery.delivery_tag or 0)  # type: ignore[union-attr]
        with contextlib.suppress(amqp_errors.ChannelInvalidStateError):
            await channel.basic_ack(tag, multiple=True, wait=False)

    async def close(self) -> None:
        channel, self.channel = self.channel, None
        self.ready.clear()
        self._wake()
        if channel is not None and not channel.is_closed:
            with contextlib.suppress(Exception):
                await channel.close()


async def publish_marker(amqp: Amqp, stream: str) -> str:
    """Append a marker to the stream (confirmed) and return its id."""
    marker = uuid.uuid4().hex
    async with amqp.admin(confirms=True) as channel:
        await channel.basic_publish(
            b"",
            exchange="",
            routing_key=stream,
            properties=spec.Basic.Properties(
                headers={hdr.MARKER: marker, hdr.TIMESTAMP: hdr.now_ms()}, delivery_mode=2
            ),
        )
    return marker


async def scan(
    amqp: Amqp,
    stream: str,
    start: Any,
    visit: Callable[[DeliveredMessage], None] | None,
    timeout: float,
) -> int:
    """Read from ``start`` up to a fresh marker, calling ``visit`` on every real message.

    Returns the marker's offset: the end of the stream when the scan began. A marker that
    does not come back within ``timeout``, or a reader whose connection drops, is
    BrokerUnavailable (callers such as describe_group and seek do not map it again).
    """
    reader = StreamReader(amqp, stream, start, prefetch=2000)
    await reader.start()
    try:
        marker = await publish_marker(amqp, stream)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise amqp.down(
                    f"the end marker published into stream {stream!r} did not come back "
                    f"within {timeout:g}s (publish_timeout): the server is slow or restarting"
                )
            try:
                await reader.wait(min(remaining, 1.0))
            except CONNECTION_ERRORS as exc:
                if isinstance(exc, AnyMQError):
                    raise
                raise amqp.unavailable(exc, f"read the stream {stream!r}") from exc
            batch = reader.take(2000)
            for message in batch:
                table = message.header.properties.headers or {}
                found = table.get(hdr.MARKER)
                if found is not None:
                    if found == marker:
                        return offset_of(message)
                    continue
                if visit is not None:
                    visit(message)
            if batch:
                await reader.ack(batch[-1])
    finally:
        await reader.close()


def position_request(start: Start) -> dict[str, Any]:
    """A start position as a seek request (what a pump in another process is sent)."""
    return {"kind": start.kind, "offset": start.offset, "ts": start.timestamp_ms}


async def resolve(amqp: Amqp, stream: str, request: dict[str, Any], timeout: float) -> Position:
    """A concrete stored position for earliest / latest / offset / timestamp."""
    kind = request["kind"]
    if kind == "earliest":
        return {"offset": 0}
    if kind == "offset":
        return {"offset": int(request["offset"])}
    if kind == "timestamp":
        return {"ts": int(request["ts"])}
    end = await scan(amqp, stream, "next", None, timeout)  # a fresh marker's offset
    return {"offset": end + 1}


class OffsetStore:
    """A group's next stream offset, as the only message of a durable queue."""

    ARGUMENTS: ClassVar[dict[str, Any]] = {
        "x-queue-type": "classic",
        "x-max-length": 1,
        "x-overflow": "drop-head",
    }

    def __init__(self, amqp: Amqp, queue: str) -> None:
        self.amqp = amqp
        self.queue = queue
        self.seq = 0

    async def declare(self) -> None:
        async with self.amqp.admin() as channel:
            await channel.queue_declare(self.queue, durable=True, arguments=self.ARGUMENTS)

    async def read(self) -> Position | None:
        """The newest stored position (None for a group without one); leaves it stored."""
        for attempt in range(20):
            async with self.amqp.admin() as channel:
                best: dict[str, Any] | None = None
                last_tag = None
                while True:
                    got = await channel.basic_get(self.queue, no_ack=False)
                    if not isinstance(got.delivery, spec.Basic.GetOk):
                        break
                    last_tag = got.delivery.delivery_tag
                    with contextlib.suppress(ValueError):
                        doc = json.loads(got.body)
                        if best is None or int(doc.get("seq", 0)) >= int(best.get("seq", 0)):
                            best = doc
                if last_tag is not None:
                    await channel.basic_nack(last_tag, multiple=True, requeue=True)
            if best is not None:
                self.seq = max(self.seq, int(best.get("seq", 0)))
                return dict(best["pos"])
            # Empty: no position yet, or another reader holds it for a moment.
            ok = await _counts(self.amqp, self.queue)
            if ok == 0 and attempt >= 2:
                return None
            await asyncio.sleep(0.01 * (attempt + 1))
        return None

    async def write(self, position: Position, channel: aiormq.abc.AbstractChannel) -> None:
        """Store ``position`` with a confirm (``channel`` must be in confirm mode)."""
        self.seq += 1
        await channel.basic_publish(
            json.dumps({"seq": self.seq, "pos": position}).encode(),
            exchange="",
            routing_key=self.queue,
            properties=spec.Basic.Properties(delivery_mode=2),
        )


async def _counts(amqp: Amqp, queue: str) -> int:
    """Ready plus unacked messages cannot be told apart over AMQP; ready ones here."""
    async with amqp.admin() as channel:
        ok = await channel.queue_declare(queue, passive=True)
    return int(ok.message_count or 0)


@lru_cache(maxsize=256)
def _pattern(binding: str) -> tuple[str, ...]:
    return tuple(binding.split("."))


def topic_matches(binding: str, key: str) -> bool:
    """AMQP topic matching: ``*`` is one word, ``#`` zero or more."""
    pattern = _pattern(binding)
    words = key.split(".")

    @cache
    def match(i: int, j: int) -> bool:
        if i == len(pattern):
            return j == len(words)
        part = pattern[i]
        if part == "#":
            return match(i + 1, j) or (j < len(words) and match(i, j + 1))
        if j == len(words):
            return False
        return (part == "*" or part == words[j]) and match(i + 1, j + 1)

    return match(0, 0)


def headers_match(binding: str, table: dict[str, Any]) -> bool:
    match = "all"
    text = binding
    if text.startswith(("any:", "all:")):
        match, text = text[:3], text[4:]
    wanted = [p.split("=", 1) for p in filter(None, (s.strip() for s in text.split(",")))]
    hits = [name in table and hdr.as_text(table[name]) == value for name, value in wanted if value]
    if not hits:
        return True
    return all(hits) if match == "all" else any(hits)


def routes(exchange_type: str, bindings: Iterable[str], message: DeliveredMessage) -> bool:
    """Would the exchange route ``message`` to a queue with these bindings?"""
    found = list(bindings)
    if not found or exchange_type == "fanout":
        return True
    key = getattr(message.delivery, "routing_key", "") or ""
    if exchange_type == "headers":
        table = message.header.properties.headers or {}
        return any(headers_match(b, table) for b in found)
    if exchange_type == "direct":
        return key in found
    return any(topic_matches(b, key) for b in found)


class OffsetTracker:
    """Reads a topic's stream behind the producers to give receipts their offsets.

    Producers register message ids before publishing; the tracker, attached at ``next``
    before the first publish, resolves them as the messages come by. One shared future
    wakes every waiter per delivered batch, not one per message.
    """

    def __init__(self, amqp: Amqp, stream: str) -> None:
        self.amqp = amqp
        self.stream = stream
        self.wanted: dict[str, int] = {}
        self.reader: StreamReader | None = None
        self._task: asyncio.Task[None] | None = None
        self._changed: asyncio.Future[None] | None = None
        self._lock = asyncio.Lock()
        self.last_seen = -1
        self.closed = False

    async def ensure(self) -> None:
        async with self._lock:
            if self.reader is not None and self.reader.error is None:
                return
            if self.reader is not None:
                await self.reader.close()
            # After a lost connection, go on right after the last offset seen: messages
            # published meanwhile are in the stream and must still resolve.
            start: Any = "next" if self.last_seen < 0 else self.last_seen + 1
            reader = StreamReader(self.amqp, self.stream, start, prefetch=2000)
            await reader.start()
            self.reader = reader
            if self._task is None or self._task.done():
                self._task = asyncio.create_task(self._run(), name=f"anymq-offsets-{self.stream}")

    def expect(self, ids: Iterable[str]) -> None:
        for message_id in ids:
            self.wanted[message_id] = -1

    async def offsets(self, ids: list[str], timeout: float) -> list[int | None]:
        """Offsets of the messages ``ids`` (None where they did not come by in time)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        wanted = self.wanted
        while any(wanted.get(i, -1) < 0 for i in ids):
            remaining = deadline - loop.time()
            if remaining <= 0 or self.closed:
                break
            if self._changed is None or self._changed.done():
                self._changed = loop.create_future()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._changed), remaining)
        out: list[int | None] = []
        for message_id in ids:
            value = wanted.pop(message_id, -1)
            out.append(value if value >= 0 else None)
        return out

    async def _run(self) -> None:
        while not self.closed:
            reader = self.reader
            if reader is None:
                return
            try:
                await reader.wait(1.0)
            except Exception:  # the stream connection dropped: reattach where we were
                await asyncio.sleep(0.2)
                try:
                    await self.ensure()
                except amqp_errors.ChannelNotFoundEntity:
                    self.closed = True  # the topic was deleted; a new tracker starts over
                    return
                except Exception:
                    continue
                continue
            batch = reader.take(2000)
            if not batch:
                continue
            wanted = self.wanted
            for message in batch:
                offset = offset_of(message)
                self.last_seen = max(self.last_seen, offset)
                message_id = message.header.properties.message_id
                if message_id is not None and message_id in wanted:
                    wanted[message_id] = offset
            await reader.ack(batch[-1])
            changed = self._changed
            if changed is not None and not changed.done():
                changed.set_result(None)

    async def close(self) -> None:
        self.closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        if self.reader is not None:
            await self.reader.close()
