"""``mode=stream`` consumers: groups fed by a pump from the topic's stream, and broadcast.

A stream keeps every message, but RabbitMQ 3.10 cannot share a stream between the members
of a group over AMQP, nor remember where a group is. So a group in stream mode is:

- its *work queue* ``<topic>.<group>`` (quorum by default; naming.py escapes a ``.`` in the
  group), which members consume exactly like a classic-mode group queue: sharing,
  invisibility of unacked messages, nack, delivery counts, dead letters and prompt failover
  all come from RabbitMQ;
- a *pump*: one member of the group at a time (the holder of the exclusive queue
  ``<topic>/<group>/pump``; RabbitMQ frees it when the holder's connection dies) reads the
  stream from the group's stored offset, copies each message into the work queue with
  confirms, then stores the next offset in ``<topic>/<group>/offset``. A crash between
  copy and store repeats a few copies (at-least-once), never skips one;
- ``seek`` goes to the pump (directly, or through ``<topic>/<group>/control`` when another
  process holds it): the pump purges the work queue and restarts from the new offset.

A consumer without a group reads the stream directly from its start position.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import deque
from typing import Any, Protocol

import aiormq
import aiormq.exceptions as amqp_errors
from aiormq.abc import DeliveredMessage
from pamqp import commands as spec

from anymq.backend import ConsumerDriver, ConsumerOptions
from anymq.errors import AnyMQError, BrokerUnavailable, ClosedError, TopicNotFound
from anymq.message import Received
from anymq.model import Position as Pos
from anymq_rabbitmq import headers as hdr
from anymq_rabbitmq.connection import CONNECTION_ERRORS, Amqp
from anymq_rabbitmq.consumer import QueueConsumer
from anymq_rabbitmq.context import RabbitContext
from anymq_rabbitmq.declare import StreamGroupPlan, prepare_stream_group, stream_topic
from anymq_rabbitmq.naming import Names
from anymq_rabbitmq.publish import Item, publish_many
from anymq_rabbitmq.streams import (
    Cursor,
    OffsetStore,
    Position,
    StreamReader,
    offset_argument,
    offset_of,
    oldest_kept,
    position_request,
    resolve,
)
from anymq_rabbitmq.topology import TopicMeta

#: The pump stops copying while the work queue holds more ready messages than this.
HIGH_WATER = 2000
#: Seconds between attempts of a member to take over the pump.
CONTEND_INTERVAL = 0.5


#: Properties a copy keeps as they are (headers and delivery mode are set anew).
_KEPT = (
    "content_type",
    "content_encoding",
    "priority",
    "correlation_id",
    "reply_to",
    "message_id",
    "timestamp",
    "message_type",
    "app_id",
)


class PumpSeats:
    """Which local seat pumps each work queue, and who waits to take over (one broker)."""

    def __init__(self) -> None:
        self.holders: dict[str, Seat] = {}
        self.waiters: dict[str, set[Seat]] = {}


class PumpMember(Protocol):
    """What a pump needs from the group member running it."""

    context: RabbitContext
    topic: str
    group: str
    meta: TopicMeta
    bindings: list[str]


def _copy_properties(
    props: spec.Basic.Properties, offset: int, topic: str, epoch: int = 0
) -> spec.Basic.Properties:
    table = dict(props.headers or {})
    if epoch:
        table[hdr.EPOCH] = epoch
    table.pop(hdr.STREAM_OFFSET, None)
    if "x-death" in table and hdr.OFFSET in table and "x-anymq-origin-offset" not in table:
        table["x-anymq-origin-offset"] = table[hdr.OFFSET]
    table[hdr.OFFSET] = offset
    table.setdefault(hdr.ORIGIN, topic)
    kept = {name: getattr(props, name) for name in _KEPT}
    return spec.Basic.Properties(headers=table, delivery_mode=2, **kept)


class Pump:
    """Copies a group's share of the stream into its work queue while its member leads."""

    def __init__(self, member: PumpMember, work: str, partition: int | None = None) -> None:
        self.member = member
        self.timeout = member.context.settings.publish_timeout
        self.amqp = member.context.stream_amqp
        self.meta = member.meta
        self.stream = Names.stream(member.topic, partition)
        self.work = work
        self.control = Names.control(member.topic, member.group, partition)
        self.store = OffsetStore(self.amqp, Names.offsets(member.topic, member.group, partition))
        self.requests: deque[tuple[dict[str, Any], Any]] = deque()
        self.reader: StreamReader | None = None
        self.cursor = Cursor()
        self.epoch = 0
        """Seeks served so far (stored with the offset): a consumer tells a copy repeated
        after a crash (same epoch, an offset it has passed) from a replay after a seek."""
        self.stopping = False

    def stop(self) -> None:
        """Finish the batch in hand (copy and store the offset), then return."""
        self.stopping = True
        if self.reader is not None:
            self.reader._wake()

    async def run(self) -> None:
        publisher = await self.amqp.raw_channel(confirms=True)
        control = await self.amqp.raw_channel()
        try:
            await control.basic_consume(self.control, self._on_control, no_ack=True)
            position = await self.store.read() or {"offset": 0}
            self.epoch = int(position.get("epoch", 0))
            await self._attach(position)
            while not self.stopping:
                if self.requests:
                    await self._serve(publisher)
                reader = self.reader
                assert reader is not None
                await reader.wait(0.25)
                if self.requests or self.stopping:
                    continue
                batch = reader.take(500)
                if batch:
                    await self._copy(batch, publisher)
                    await reader.ack(batch[-1])
        finally:
            if self.reader is not None:
                await self.reader.close()
            for channel in (publisher, control):
                if not channel.is_closed:
                    with contextlib.suppress(Exception):
                        await channel.close()

    async def _attach(self, position: Position) -> None:
        if self.reader is not None:
            await self.reader.close()
        self.cursor = Cursor(position)
        self.reader = StreamReader(self.amqp, self.stream, offset_argument(position))
        await self.reader.start()

    async def _copy(self, batch: list[DeliveredMessage], publisher: Any) -> None:
        exchange_type, bindings = self.meta.exchange_type, self.member.bindings
        oldest = oldest_kept(self.meta.retention_ms)
        items: list[Item] = []
        topic = self.member.topic
        for message in batch:
            if self.cursor.wanted(message, exchange_type, bindings, oldest):
                props = _copy_properties(
                    message.header.properties, offset_of(message), topic, self.epoch
                )
                items.append((message.body, self.work, props))
        if items:
            await self._throttle(publisher)
            # mandatory: a copy the work queue did not take fails the pump, which then
            # starts over from the stored offset instead of storing past a lost copy.
            await publish_many(publisher, "", items, mandatory=True)
        stored: dict[str, Any] = {"offset": self.cursor.next_offset}
        if self.epoch:
            stored["epoch"] = self.epoch
        await self.store.write(stored, publisher)

    async def _throttle(self, publisher: Any) -> None:
        while True:
            ok = await publisher.queue_declare(self.work, passive=True)
            if int(ok.message_count or 0) < HIGH_WATER or self.requests or self.stopping:
                return
            await asyncio.sleep(0.05)

    # -- seek ----------------------------------------------------------------------------
    def request(self, seek: dict[str, Any], done: Any) -> None:
        self.requests.append((seek, done))
        if self.reader is not None:
            self.reader._wake()

    async def _on_control(self, message: DeliveredMessage) -> None:
        props = message.header.properties
        try:
            seek = json.loads(message.body)
        except ValueError:
            return
        reply_to, correlation = props.reply_to, props.correlation_id
        self.request(seek, (reply_to, correlation))

    async def _serve(self, publisher: Any) -> None:
        while self.requests:
            seek, done = self.requests.popleft()
            error = None
            try:
                await publisher.queue_purge(self.work)
                position = await resolve(self.amqp, self.stream, seek, self.timeout)
                self.epoch += 1
                await self.store.write({**position, "epoch": self.epoch}, publisher)
                await self._attach(position)
            except Exception as exc:  # reported to the member that asked
                error = exc
            if isinstance(done, asyncio.Future):
                if not done.done():
                    if error is None:
                        done.set_result(None)
                    else:
                        done.set_exception(error)
            elif done[0]:
                body = json.dumps({"ok": error is None, "error": repr(error)}).encode()
                with contextlib.suppress(Exception):
                    await publisher.basic_publish(
                        body,
                        exchange="",
                        routing_key=done[0],
                        properties=spec.Basic.Properties(correlation_id=done[1]),
                    )
            if error is not None:
                raise error


class Seat:
    """The pump of one work queue: at most one member runs it, locally through PumpSeats,
    across processes by holding the exclusive queue ``<topic>/<group>[/<p>]/pump``
    (RabbitMQ frees it when the holder's connection dies)."""

    def __init__(
        self, member: PumpMember, seats: PumpSeats, work: str, partition: int | None = None
    ) -> None:
        self.member = member
        self.seats = seats
        self.work = work
        self.partition = partition
        self.amqp = member.context.stream_amqp
        self.lock = Names.pump_lock(member.topic, member.group, partition)
        self.pump: Pump | None = None
        self.task: asyncio.Task[None] | None = None
        self.lock_channel: aiormq.abc.AbstractChannel | None = None
        self.turn = asyncio.Event()

    @property
    def leading(self) -> bool:
        return self.seats.holders.get(self.work) is self

    @property
    def failed(self) -> bool:
        """The pump stopped by itself (lost connection): release, then contend again."""
        return self.task is not None and self.task.done()

    async def try_lead(self) -> bool:
        holders = self.seats.holders
        if self.work in holders:
            return holders[self.work] is self
        holders[self.work] = self  # claim locally before awaiting: one pump per process
        try:
            channel = await self.amqp.raw_channel()
            try:
                await channel.queue_declare(self.lock, exclusive=True, auto_delete=False)
            except amqp_errors.ChannelLockedResource:
                holders.pop(self.work, None)
                return False
        except BaseException:
            holders.pop(self.work, None)
            raise
        self.lock_channel = channel
        self.pump = Pump(self.member, self.work, self.partition)
        self.task = asyncio.create_task(self.pump.run(), name=f"anymq-pump-{self.work}")
        return True

    async def release(self) -> None:
        task, self.task = self.task, None
        if task is not None:
            if self.pump is not None:
                self.pump.stop()  # a clean stop stores the offset of what was copied
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(task), 5.0)
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        pump, self.pump = self.pump, None
        if pump is not None:
            for _seek, done in pump.requests:
                if isinstance(done, asyncio.Future) and not done.done():
                    done.set_exception(ClosedError("the pump stopped before the seek"))
        channel, self.lock_channel = self.lock_channel, None
        if channel is not None:
            with contextlib.suppress(Exception):
                if channel.is_closed:
                    channel = await self.amqp.raw_channel()
                await channel.queue_delete(self.lock)
                await channel.close()
        if self.seats.holders.get(self.work) is self:
            del self.seats.holders[self.work]
        for seat in self.seats.waiters.get(self.work, ()):
            seat.turn.set()  # a local member takes over at once


async def local_seek(amqp: Amqp, group: str, pump: Pump, request: dict[str, Any]) -> None:
    """Hand the seek to this process's pump; its failure (the pump's connection lost,
    no answer within publish_timeout) is BrokerUnavailable, never a raw error."""
    timeout = pump.timeout
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    pump.request(request, done)
    try:
        await asyncio.wait_for(done, timeout)
    except AnyMQError:
        raise
    except TimeoutError as exc:
        raise amqp.down(
            f"the pump of group {group!r} did not move the group within {timeout:g}s"
        ) from exc
    except CONNECTION_ERRORS as exc:
        raise amqp.unavailable(exc, f"seek group {group!r}") from exc


async def remote_seek(
    amqp: Amqp, group: str, control: str, request: dict[str, Any], timeout: float
) -> None:
    """Ask the pump in another process, through the group's control queue."""
    correlation = uuid.uuid4().hex
    reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def on_reply(message: DeliveredMessage) -> None:
        if message.header.properties.correlation_id == correlation and not reply.done():
            reply.set_result(message.body)

    async with amqp.admin() as channel:
        await channel.basic_consume("amq.rabbitmq.reply-to", on_reply, no_ack=True)
        await channel.basic_publish(
            json.dumps(request).encode(),
            exchange="",
            routing_key=control,
            properties=spec.Basic.Properties(
                reply_to="amq.rabbitmq.reply-to",
                correlation_id=correlation,
                expiration=str(int(timeout * 1000)),
            ),
        )
        try:
            answer = json.loads(await asyncio.wait_for(reply, timeout))
        except TimeoutError as exc:
            raise BrokerUnavailable(
                f"no member of group {group!r} moved the group within {timeout:g}s"
            ) from exc
    if not answer.get("ok"):
        raise BrokerUnavailable(f"seek failed in the group's pump: {answer.get('error')}")


class StreamGroupConsumer(QueueConsumer):
    """A member of a stream-mode group: consumes the work queue, contends for the pump."""

    def __init__(self, context: RabbitContext, options: ConsumerOptions, seats: PumpSeats) -> None:
        super().__init__(context, options)
        assert options.group is not None
        self.seats = seats
        self.stream_amqp = context.stream_amqp
        self.group: str = options.group
        self.work_queue = Names.group_queue(options.topic, options.group)
        self.meta = TopicMeta(name=options.topic)
        self.bindings: list[str] = []
        self.seat = Seat(self, seats, self.work_queue)
        self._contender: asyncio.Task[None] | None = None

    async def start(self, plan: StreamGroupPlan | None = None) -> None:
        with self.amqp.dropped(f"start a consumer of {self.topic!r}"):
            plan = plan or await prepare_stream_group(self.context, self.options)
            self.meta, self.bindings, self.quorum = plan.meta, plan.bindings, plan.quorum
            self.work_queue = plan.queue
            self.queue = self.work_queue
            self.seat = Seat(self, self.seats, self.work_queue)
            try:
                await self._open()
            except BaseException:
                await self._drop_channel()  # a failed start keeps no channel; may be retried
                raise
        with contextlib.suppress(Exception):
            await self.seat.try_lead()
        self._contender = asyncio.create_task(self._contend(), name=f"anymq-pump-{self.queue}")

    async def _open(self) -> None:
        channel = await self.amqp.robust_channel(confirms=False)
        self.channel = channel
        await channel.set_qos(prefetch_count=self.options.prefetch)
        channel.reopen_callbacks.add(self._on_reopen)
        await self._consume()

    # -- leadership ------------------------------------------------------------------------
    @property
    def leading(self) -> bool:
        return self.seat.leading

    @property
    def pump(self) -> Pump | None:
        return self.seat.pump

    @property
    def _pump_task(self) -> asyncio.Task[None] | None:
        return self.seat.task

    async def _contend(self) -> None:
        seat = self.seat
        waiters = self.seats.waiters.setdefault(self.work_queue, set())
        waiters.add(seat)
        try:
            while not self.closed:
                if seat.failed:
                    await seat.release()  # the pump failed (connection lost): start over
                if not seat.leading:
                    with contextlib.suppress(Exception):
                        await seat.try_lead()
                seat.turn.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(seat.turn.wait(), CONTEND_INTERVAL)
        finally:
            waiters.discard(seat)

    # -- receiving -------------------------------------------------------------------------
    def _convert(self, message: DeliveredMessage) -> Received:
        received = super()._convert(message)
        table = message.header.properties.headers or {}
        offset = table.get(hdr.OFFSET)
        received.partition = 0
        received.offset = offset if isinstance(offset, int) else None
        return received

    # -- seek --------------------------------------------------------------------------------
    async def seek(self, position: Pos) -> None:
        request = position_request(position)
        # Give back what this member holds, so the purge leaves nothing behind.
        channel, self.channel = self.channel, None
        self._ready.clear()
        if channel is not None:
            with contextlib.suppress(Exception):
                await channel.close()
        try:
            holder = self.seats.holders.get(self.work_queue)
            if holder is not None and holder.pump is not None:
                await local_seek(self.amqp, self.group, holder.pump, request)
            else:
                timeout = self.context.settings.publish_timeout
                control = Names.control(self.topic, self.group)
                await remote_seek(self.amqp, self.group, control, request, timeout)
        finally:
            await self._open()

    async def close(self) -> None:
        if self.closed:
            return
        contender, self._contender = self._contender, None
        if contender is not None:
            contender.cancel()
            with contextlib.suppress(BaseException):
                await contender
        if self.seat.leading or self.seat.task is not None:
            await self.seat.release()
        await super().close()


class StreamBroadcastConsumer(ConsumerDriver):
    """A consumer without a group in stream mode: reads the stream from its start position."""

    def __init__(
        self,
        context: RabbitContext,
        options: ConsumerOptions,
        *,
        partition: int | None = None,
        meta: TopicMeta | None = None,
    ) -> None:
        self.context = context
        self.stream_amqp = context.stream_amqp
        self.options = options
        self.topic = options.topic
        self.partition = partition
        """The partition whose stream this reads (None: the topic's only stream)."""
        self.stream = Names.stream(options.topic, partition)
        self.known = meta
        self.meta = meta or TopicMeta(name=options.topic)
        self.bindings = [options.binding] if options.binding is not None else []
        self.reader: StreamReader | None = None
        self.cursor = Cursor()
        self.closed = False

    async def start(self) -> None:
        with self.context.amqp.dropped(f"start a consumer of {self.topic!r}"):
            self.meta = self.known or await stream_topic(self.context, self.topic)
            await self._attach(self.options.start)

    async def _attach(self, position: Pos) -> None:
        if self.reader is not None:
            await self.reader.close()
        self.cursor = Cursor()
        start: Any
        if position.kind == "latest":
            start = "next"
        else:
            request = position_request(position)
            timeout = self.context.settings.publish_timeout
            stored = await resolve(self.stream_amqp, self.stream, request, timeout)
            self.cursor = Cursor(stored)
            start = offset_argument(stored)
        self.reader = StreamReader(self.stream_amqp, self.stream, start, self.options.prefetch)
        await self.reader.start()

    async def receive(self, max_messages: int, timeout: float | None) -> list[Received]:
        if self.closed or self.reader is None:
            return []
        out: list[Received] = []
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            reader = self.reader
            try:
                await reader.wait(None if deadline is None else max(0.0, deadline - loop.time()))
            except Exception as exc:
                if not await self._resume(exc, deadline):
                    return out
                continue
            out = await self.take_ready(max_messages)
            if out or self.closed or (deadline is not None and loop.time() >= deadline):
                return out

    async def take_ready(self, max_messages: int) -> list[Received]:
        """What the reader holds now (up to ``max_messages``), without waiting."""
        reader = self.reader
        if reader is None:
            return []
        batch = reader.take(max_messages)
        out = [self._convert(m) for m in batch if self._wanted(m)]
        if batch and not out:
            await reader.ack(batch[-1])  # skipped markers / expired: give credit back
        return out

    async def _resume(self, exc: Exception, deadline: float | None) -> bool:
        """Attach again after the reader failed (lost connection, server restart), right
        after the last message handed out, within the receive's time (or publish_timeout
        without one); False when that time ran out (the next receive tries again).
        Only a stream that really is gone is TopicNotFound."""
        loop = asyncio.get_running_loop()
        remaining = self.context.settings.publish_timeout
        if deadline is not None:
            remaining = max(0.0, deadline - loop.time())
        try:
            async with asyncio.timeout(remaining):
                await self._reattach()
        except TimeoutError:
            if deadline is None:
                raise BrokerUnavailable(
                    f"lost the stream of topic {self.topic!r} ({exc!r}) and could not read it "
                    f"again within {remaining:g}s"
                ) from exc
            return False
        except amqp_errors.ChannelNotFoundEntity as missing:
            raise TopicNotFound(self.topic, "rabbitmq", f"its stream is gone: {missing}") from exc
        except BrokerUnavailable:
            if deadline is None:
                raise
            return False
        return True

    async def _reattach(self) -> None:
        # Nothing handed out yet after a 'latest' start: there is no offset to go on from.
        start: Any = "next"
        if self.cursor.next_offset > 0 or self.options.start.kind != "latest":
            start = offset_argument(self.cursor.position())
        reader = StreamReader(self.stream_amqp, self.stream, start, self.options.prefetch)
        await reader.start()
        old, self.reader = self.reader, reader
        if old is not None:
            await old.close()

    def _wanted(self, message: DeliveredMessage) -> bool:
        oldest = oldest_kept(self.meta.retention_ms)
        return self.cursor.wanted(message, self.meta.exchange_type, self.bindings, oldest)

    def _convert(self, message: DeliveredMessage) -> Received:
        props = message.header.properties
        headers, key, ts = hdr.decode(props.headers)
        return Received(
            message.body,
            key,
            headers,
            self.topic,
            self.partition or 0,
            offset_of(message),
            ts,
            1,
            props.message_id,
            message,
            self.delivery,
        )

    # -- primitives for anymq.delivery: requeue is client-side (the stream keeps all) ----
    async def ack(self, message: Received) -> None:
        if self.reader is not None:
            await self.reader.ack(message.handle)

    async def seek(self, position: Pos) -> None:
        await self._attach(position)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.reader is not None:
            await self.reader.close()
