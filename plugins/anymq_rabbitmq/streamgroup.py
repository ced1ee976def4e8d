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
from typing import TYPE_CHECKING, Any

import aiormq
import aiormq.exceptions as amqp_errors
from aiormq.abc import DeliveredMessage
from pamqp import commands as spec

from anymq.backend import ConsumerDriver, ConsumerOptions
from anymq.errors import AnyMQError, BrokerUnavailable, ClosedError, TopicNotFound
from anymq.message import Received
from anymq.model import Position as Pos
from anymq_rabbitmq import headers as hdr
from anymq_rabbitmq.connection import CONNECTION_ERRORS
from anymq_rabbitmq.consumer import QueueConsumer
from anymq_rabbitmq.naming import Names
from anymq_rabbitmq.publish import Item, publish_many
from anymq_rabbitmq.streams import (
    OffsetStore,
    Position,
    StreamReader,
    is_marker,
    offset_argument,
    offset_of,
    routes,
)
from anymq_rabbitmq.topology import TopicMeta

if TYPE_CHECKING:
    from anymq_rabbitmq.driver import RabbitBroker

#: The pump stops copying while the work queue holds more ready messages than this.
HIGH_WATER = 2000
#: Seconds between attempts of a member to take over the pump.
CONTEND_INTERVAL = 0.5


def position_request(position: Pos) -> dict[str, Any]:
    return {"kind": position.kind, "offset": position.offset, "ts": position.timestamp_ms}


async def resolve(broker: RabbitBroker, stream: str, request: dict[str, Any]) -> Position:
    """A concrete stored position for earliest / latest / offset / timestamp."""
    kind = request["kind"]
    if kind == "earliest":
        return {"offset": 0}
    if kind == "offset":
        return {"offset": int(request["offset"])}
    if kind == "timestamp":
        return {"ts": int(request["ts"])}
    end = await broker.stream_end(stream)
    return {"offset": end + 1}


def _copy_properties(
    props: spec.Basic.Properties, offset: int, topic: str
) -> spec.Basic.Properties:
    table = dict(props.headers or {})
    table.pop(hdr.STREAM_OFFSET, None)
    if "x-death" in table and hdr.OFFSET in table and "x-anymq-origin-offset" not in table:
        table["x-anymq-origin-offset"] = table[hdr.OFFSET]
    table[hdr.OFFSET] = offset
    table.setdefault(hdr.ORIGIN, topic)
    return spec.Basic.Properties(
        content_type=props.content_type,
        content_encoding=props.content_encoding,
        headers=table,
        delivery_mode=2,
        priority=props.priority,
        correlation_id=props.correlation_id,
        reply_to=props.reply_to,
        message_id=props.message_id,
        timestamp=props.timestamp,
        message_type=props.message_type,
        app_id=props.app_id,
    )


class Pump:
    """Copies a group's share of the stream into its work queue while its member leads."""

    def __init__(self, member: StreamGroupConsumer) -> None:
        self.member = member
        self.broker = member.broker
        self.amqp = member.broker.stream_amqp
        self.meta = member.meta
        self.stream = Names.stream(member.topic)
        self.work = member.work_queue
        self.store = OffsetStore(self.amqp, Names.offsets(member.topic, member.group))
        self.requests: deque[tuple[dict[str, Any], Any]] = deque()
        self.reader: StreamReader | None = None
        self.next_offset = 0
        self.ts_floor: int | None = None
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
            await control.basic_consume(
                Names.control(self.member.topic, self.member.group),
                self._on_control,
                no_ack=True,
            )
            position = await self.store.read() or {"offset": 0}
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
        self.next_offset = int(position.get("offset", 0))
        self.ts_floor = position.get("ts")
        self.reader = StreamReader(self.amqp, self.stream, offset_argument(position))
        await self.reader.start()

    async def _copy(self, batch: list[DeliveredMessage], publisher: Any) -> None:
        meta = self.meta
        bindings = self.member.bindings
        expiry = meta.retention_ms
        oldest = hdr.now_ms() - expiry if expiry else None
        items: list[Item] = []
        topic = self.member.topic
        for message in batch:
            offset = offset_of(message)
            if offset < self.next_offset:
                continue
            self.next_offset = offset + 1
            if is_marker(message):
                continue
            props = message.header.properties
            ts = (props.headers or {}).get(hdr.TIMESTAMP)
            if self.ts_floor is not None:
                if isinstance(ts, int) and ts < self.ts_floor:
                    continue
                self.ts_floor = None
            if oldest is not None and isinstance(ts, int) and ts < oldest:
                continue  # older than the topic's retention: removed for anymq readers
            if not routes(meta.exchange_type, bindings, message):
                continue
            items.append((message.body, self.work, _copy_properties(props, offset, topic)))
        if items:
            await self._throttle(publisher)
            # mandatory: a copy the work queue did not take fails the pump, which then
            # starts over from the stored offset instead of storing past a lost copy.
            await publish_many(publisher, "", items, mandatory=True)
        await self.store.write({"offset": self.next_offset}, publisher)

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
                position = await resolve(self.broker, self.stream, seek)
                await self.store.write(position, publisher)
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


class StreamGroupConsumer(QueueConsumer):
    """A member of a stream-mode group: consumes the work queue, contends for the pump."""

    def __init__(self, broker: RabbitBroker, options: ConsumerOptions) -> None:
        super().__init__(broker, options)
        assert options.group is not None
        self.group: str = options.group
        self.work_queue = Names.group_queue(options.topic, options.group)
        self.meta = TopicMeta(name=options.topic)
        self.bindings: list[str] = []
        self.pump: Pump | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._contender: asyncio.Task[None] | None = None
        self._lock_channel: aiormq.abc.AbstractChannel | None = None
        self._turn = asyncio.Event()

    async def start(self) -> None:
        with self.broker.amqp.dropped(f"start a consumer of {self.topic!r}"):
            prepared = await self.broker.prepare_stream_group(self.options)
            self.meta, self.bindings, self.quorum, self.work_queue = prepared
            self.queue = self.work_queue
            try:
                await self._open()
            except BaseException:
                await self._drop_channel()  # a failed start keeps no channel; may be retried
                raise
        with contextlib.suppress(Exception):
            await self._try_lead()
        self._contender = asyncio.create_task(self._contend(), name=f"anymq-pump-{self.queue}")

    async def _open(self) -> None:
        channel = await self.broker.amqp.robust_channel(confirms=False)
        self.channel = channel
        await channel.set_qos(prefetch_count=self.options.prefetch)
        channel.reopen_callbacks.add(self._on_reopen)
        await self._consume()

    # -- leadership ------------------------------------------------------------------------
    @property
    def leading(self) -> bool:
        return self.broker.pump_holders.get(self.work_queue) is self

    async def _try_lead(self) -> bool:
        holders = self.broker.pump_holders
        if self.work_queue in holders:
            return holders[self.work_queue] is self
        holders[self.work_queue] = self  # claim locally before awaiting: one pump per process
        try:
            channel = await self.broker.stream_amqp.raw_channel()
            try:
                await channel.queue_declare(
                    Names.pump_lock(self.topic, self.group), exclusive=True, auto_delete=False
                )
            except amqp_errors.ChannelLockedResource:
                holders.pop(self.work_queue, None)
                return False
        except BaseException:
            holders.pop(self.work_queue, None)
            raise
        self._lock_channel = channel
        self.pump = Pump(self)
        self._pump_task = asyncio.create_task(self.pump.run(), name=f"anymq-pump-{self.queue}")
        return True

    async def _release(self) -> None:
        task, self._pump_task = self._pump_task, None
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
        channel, self._lock_channel = self._lock_channel, None
        if channel is not None:
            with contextlib.suppress(Exception):
                if channel.is_closed:
                    channel = await self.broker.stream_amqp.raw_channel()
                await channel.queue_delete(Names.pump_lock(self.topic, self.group))
                await channel.close()
        if self.broker.pump_holders.get(self.work_queue) is self:
            del self.broker.pump_holders[self.work_queue]
        for member in self.broker.pump_waiters.get(self.work_queue, ()):
            member._turn.set()  # a local member takes over at once

    async def _contend(self) -> None:
        waiters = self.broker.pump_waiters.setdefault(self.work_queue, set())
        waiters.add(self)
        try:
            while not self.closed:
                task = self._pump_task
                if task is not None and task.done():
                    await self._release()  # the pump failed (connection lost): start over
                if not self.leading:
                    with contextlib.suppress(Exception):
                        await self._try_lead()
                self._turn.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._turn.wait(), CONTEND_INTERVAL)
        finally:
            waiters.discard(self)

    # -- receiving -------------------------------------------------------------------------
    def _convert(self, message: DeliveredMessage) -> Received:
        received = super()._convert(message)
        table = message.header.properties.headers or {}
        offset = table.get(hdr.OFFSET)
        received.partition = 0
        received.offset = offset if isinstance(offset, int) else None
        return received

    # -- dead letters: client-side (RabbitMQ 3.10 cannot dead-letter into a stream) ------
    native_dead_letters = False

    async def dead_letter(self, message: Received, topic: str, headers: dict[str, bytes]) -> None:
        """Publish with confirm; Delivery then acks: never lost, maybe twice."""
        table = hdr.encode(headers, message.key, message.timestamp_ms or hdr.now_ms())
        async with self.broker.amqp.admin_confirm() as channel:
            await channel.basic_publish(
                message.body,
                exchange=topic,
                routing_key=topic,
                properties=spec.Basic.Properties(
                    headers=table, delivery_mode=2, message_id=message.message_id
                ),
            )

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
            holder = self.broker.pump_holders.get(self.work_queue)
            if holder is not None and holder.pump is not None:
                await self._local_seek(holder.pump, request)
            else:
                await self._remote_seek(request)
        finally:
            await self._open()

    async def _local_seek(self, pump: Pump, request: dict[str, Any]) -> None:
        """Hand the seek to this process's pump; its failure (the pump's connection lost,
        no answer within publish_timeout) is BrokerUnavailable, never a raw error."""
        timeout = self.broker.settings.publish_timeout
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        pump.request(request, done)
        try:
            await asyncio.wait_for(done, timeout)
        except AnyMQError:
            raise
        except TimeoutError as exc:
            raise self.broker.amqp.down(
                f"the pump of group {self.group!r} did not move the group within {timeout:g}s"
            ) from exc
        except CONNECTION_ERRORS as exc:
            raise self.broker.amqp.unavailable(exc, f"seek group {self.group!r}") from exc

    async def _remote_seek(self, request: dict[str, Any]) -> None:
        timeout = self.broker.settings.publish_timeout
        correlation = uuid.uuid4().hex
        reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

        async def on_reply(message: DeliveredMessage) -> None:
            if message.header.properties.correlation_id == correlation and not reply.done():
                reply.set_result(message.body)

        async with self.broker.amqp.admin() as channel:
            await channel.basic_consume("amq.rabbitmq.reply-to", on_reply, no_ack=True)
            await channel.basic_publish(
                json.dumps(request).encode(),
                exchange="",
                routing_key=Names.control(self.topic, self.group),
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
                    f"no member of group {self.group!r} moved the group within {timeout:g}s"
                ) from exc
        if not answer.get("ok"):
            raise BrokerUnavailable(f"seek failed in the group's pump: {answer.get('error')}")

    async def close(self) -> None:
        if self.closed:
            return
        contender, self._contender = self._contender, None
        if contender is not None:
            contender.cancel()
            with contextlib.suppress(BaseException):
                await contender
        if self.leading or self._pump_task is not None:
            await self._release()
        await super().close()


class StreamBroadcastConsumer(ConsumerDriver):
    """A consumer without a group in stream mode: reads the stream from its start position."""

    def __init__(self, broker: RabbitBroker, options: ConsumerOptions) -> None:
        self.broker = broker
        self.options = options
        self.topic = options.topic
        self.meta = TopicMeta(name=options.topic)
        self.bindings = [options.binding] if options.binding is not None else []
        self.reader: StreamReader | None = None
        self.next_offset = 0
        self.ts_floor: int | None = None
        self.closed = False

    async def start(self) -> None:
        with self.broker.amqp.dropped(f"start a consumer of {self.topic!r}"):
            self.meta = await self.broker.stream_topic(self.topic)
            await self._attach(self.options.start)

    async def _attach(self, position: Pos) -> None:
        if self.reader is not None:
            await self.reader.close()
        self.ts_floor = None
        self.next_offset = 0
        start: Any
        if position.kind == "latest":
            start = "next"
        else:
            request = position_request(position)
            stored = await resolve(self.broker, Names.stream(self.topic), request)
            self.next_offset = int(stored.get("offset", 0))
            self.ts_floor = stored.get("ts")
            start = offset_argument(stored)
        self.reader = StreamReader(
            self.broker.stream_amqp, Names.stream(self.topic), start, self.options.prefetch
        )
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
            batch = reader.take(max_messages)
            out = [self._convert(m) for m in batch if self._wanted(m)]
            if batch and not out:
                await reader.ack(batch[-1])  # skipped markers / expired: give credit back
            if out or self.closed or (deadline is not None and loop.time() >= deadline):
                return out

    async def _resume(self, exc: Exception, deadline: float | None) -> bool:
        """Attach again after the reader failed (lost connection, server restart), right
        after the last message handed out, within the receive's time (or publish_timeout
        without one); False when that time ran out (the next receive tries again).
        Only a stream that really is gone is TopicNotFound."""
        loop = asyncio.get_running_loop()
        remaining = self.broker.settings.publish_timeout
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
        if self.next_offset > 0 or self.options.start.kind != "latest":
            start = offset_argument(
                {"offset": self.next_offset}
                if self.ts_floor is None
                else {"ts": self.ts_floor}
            )
        reader = StreamReader(
            self.broker.stream_amqp, Names.stream(self.topic), start, self.options.prefetch
        )
        await reader.start()
        old, self.reader = self.reader, reader
        if old is not None:
            await old.close()

    def _wanted(self, message: DeliveredMessage) -> bool:
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
        expiry = self.meta.retention_ms
        if expiry and isinstance(ts, int) and ts < hdr.now_ms() - expiry:
            return False
        return routes(self.meta.exchange_type, self.bindings, message)

    def _convert(self, message: DeliveredMessage) -> Received:
        props = message.header.properties
        headers, key, ts = hdr.decode(props.headers)
        return Received(
            message.body,
            key,
            headers,
            self.topic,
            0,
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
