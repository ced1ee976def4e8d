"""Consuming a queue: a group's durable queue, or a private exclusive one without a group.

Deliveries arrive through ``basic.consume`` on the consumer's own robust channel (its
``basic.qos`` is the prefetch) and wait in a deque until ``receive`` takes them; no task or
future is created per message by anymq (aiormq itself runs one task per delivery). Closing
the channel hands every unacked message back to the queue at once, which is what makes
close-without-ack and failover prompt. After a reconnect the channel is restored by
aio-pika and ``basic.consume`` is issued again; messages delivered on the lost channel are
dropped from the buffer, because RabbitMQ requeued them and will deliver them again.

Deleting a topic's exchange does not cancel the consumers of a private queue bound to it
(the queue lives on, bound to nothing), so a receive without a group that has waited
``WATCH_EVERY`` seconds asks whether the exchange still exists (a passive declare), at
most that often, and raises TopicNotFound when RabbitMQ says it is gone (closing its
channel, so the queue goes too).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any

import aiormq
import aiormq.exceptions as amqp_errors
from aio_pika.abc import AbstractRobustChannel
from aiormq.abc import DeliveredMessage
from pamqp import commands as spec

from anymq.backend import ConsumerDriver, ConsumerOptions
from anymq.delivery import Delivery
from anymq.errors import ConfigError, TopicNotFound
from anymq.message import Received
from anymq_rabbitmq import headers as hdr
from anymq_rabbitmq.connection import Amqp, queue_down
from anymq_rabbitmq.context import RabbitContext
from anymq_rabbitmq.declare import QueuePlan, prepare_queue
from anymq_rabbitmq.options import RabbitOptions
from anymq_rabbitmq.topology import exchange_exists

WATCH_EVERY = 1.0
"""Seconds of waiting between checks that a private queue's exchange still exists."""


class QueueConsumer(ConsumerDriver):
    """A subscription on one queue, declared (declare.py) when it starts."""

    def __init__(
        self, context: RabbitContext, options: ConsumerOptions, plan: QueuePlan | None = None
    ) -> None:
        self.plan = plan
        """What to read, when the caller has declared it already (classic.py)."""
        self.context = context
        self.amqp = context.amqp
        self.options = options
        self.topic = options.topic
        self.queue: str | None = None
        self.quorum = False
        """True when x-delivery-count can be trusted (quorum group queue)."""
        self.exclusive = RabbitOptions.parse(
            options.extra, "consumer", defaults=context.options
        ).exclusive
        self.channel: AbstractRobustChannel | None = None
        self.tag: str | None = None
        self._underlay: aiormq.abc.AbstractChannel | None = None
        self._ready: deque[DeliveredMessage] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._cancelled = False
        self.private = False
        """Reads a private queue, whose consumer RabbitMQ does not cancel on a topic delete."""
        self._checked = 0.0
        self.partition_of: dict[str, int] = {}
        """Partition by exchange a message came through (a private queue of a partitioned
        topic is bound to every partition's exchange); others are partition 0."""
        self.closed = False

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        try:
            with self.amqp.dropped(f"start a consumer of {self.topic!r}"):
                await self._start()
        except BaseException:
            await self._drop_channel()  # a failed start keeps no channel; it may be retried
            raise

    async def _start(self) -> None:
        plan = self.plan or await prepare_queue(self.context, self.options)
        self.queue = plan.name
        self.quorum = plan.quorum
        channel = await self.amqp.robust_channel(confirms=False)
        self.channel = channel
        await channel.set_qos(prefetch_count=self.options.prefetch)
        if plan.name is None:
            # A private queue, declared on the robust channel so a reconnect re-creates it.
            queue = await channel.declare_queue(
                None, exclusive=True, auto_delete=True, arguments=plan.arguments
            )
            exchanges = plan.exchanges or (self.topic,)
            for exchange in exchanges:
                await queue.bind(exchange, plan.key, arguments=plan.bind_arguments)
            if len(exchanges) > 1:
                self.partition_of = {name: p for p, name in enumerate(exchanges)}
            self.queue = queue.name
            self.private = True
        channel.reopen_callbacks.add(self._on_reopen)
        await self._consume()

    async def _drop_channel(self) -> None:
        """Close the channel a start opened and forget it (RabbitMQ caps channels)."""
        channel, self.channel = self.channel, None
        self._underlay = None
        self.tag = None
        if channel is not None:
            with contextlib.suppress(Exception):
                await channel.close()

    async def _consume(self) -> None:
        assert self.channel is not None
        assert self.queue is not None
        underlay = await self.channel.get_underlay_channel()
        underlay.on_consumer_cancel_callbacks.add(self._on_cancel)
        try:
            ok = await underlay.basic_consume(
                self.queue, self._on_message, exclusive=self.exclusive, consumer_tag=self.tag
            )
        except amqp_errors.ChannelNotFoundEntity as exc:
            if queue_down(exc):  # exists, still starting after a restart: not a missing topic
                raise self.amqp.unavailable(exc, f"consume {self.queue!r}") from exc
            raise TopicNotFound(self.topic, "rabbitmq", f"queue {self.queue!r} is gone") from exc
        except amqp_errors.ChannelAccessRefused as exc:  # 403: another member holds it
            raise ConfigError(
                f"RabbitMQ refused to let this consumer read queue {self.queue!r}: "
                f"{exc.args[0] if exc.args else exc}. Another consumer holds it with "
                "exclusive=true (or this one asked for exclusive use while others read it); "
                "close that consumer first, or do not ask for exclusive use"
            ) from exc
        self.tag = ok.consumer_tag
        self._underlay = underlay

    async def _on_reopen(self, _channel: Any) -> None:
        if self.closed:
            return
        stale = self._underlay
        self._ready = deque(m for m in self._ready if m.channel is not stale)
        try:
            await self._consume()
        except TopicNotFound:
            self._on_cancel(spec.Basic.Cancel(consumer_tag=self.tag))  # deleted meanwhile
        except Exception:  # the next reopen (after the next reconnect) tries again
            pass

    async def _on_message(self, message: DeliveredMessage) -> None:
        self._ready.append(message)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _on_cancel(self, frame: spec.Basic.Cancel) -> None:
        if frame.consumer_tag == self.tag:
            self._cancelled = True  # RabbitMQ cancels consumers of deleted queues
            waiter = self._waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._ready.clear()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if self.channel is not None:
            with contextlib.suppress(Exception):
                await self.channel.close()  # unacked messages go back to the queue now

    # -- receiving ---------------------------------------------------------------------
    async def receive(self, max_messages: int, timeout: float | None) -> list[Received]:
        ready = self._ready
        if not ready:
            if self.closed:
                return []
            if self._cancelled:
                raise TopicNotFound(self.topic, "rabbitmq", "it was deleted while consuming")
            if timeout is not None and timeout <= 0:
                return []
            loop = asyncio.get_running_loop()
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiter = waiter
            try:
                if self.private:
                    await self._wait_watching(waiter, timeout)
                elif timeout is None:
                    await waiter
                else:
                    await asyncio.wait_for(waiter, timeout)
            except TimeoutError:
                return []
            finally:
                self._waiter = None
            if self._cancelled and not ready:
                raise TopicNotFound(self.topic, "rabbitmq", "it was deleted while consuming")
        out: list[Received] = []
        convert = self._convert
        while ready and len(out) < max_messages:
            message = ready.popleft()
            if message.channel.is_closed:
                continue  # delivered on a lost channel: RabbitMQ redelivers it
            out.append(convert(message))
        return out

    async def _wait_watching(self, waiter: asyncio.Future[None], timeout: float | None) -> None:
        """Wait for ``waiter`` (TimeoutError after ``timeout``), checking at most every
        WATCH_EVERY s of waiting that the exchange still exists."""
        loop = asyncio.get_running_loop()
        end = None if timeout is None else loop.time() + timeout
        while True:
            step = WATCH_EVERY if end is None else min(WATCH_EVERY, end - loop.time())
            if step > 0:
                await asyncio.wait((waiter,), timeout=step)
            if waiter.done():
                return
            now = loop.time()
            if end is not None and now >= end:
                raise TimeoutError
            if now - self._checked < WATCH_EVERY:
                continue
            self._checked = now
            try:
                exists = await exchange_exists(self.amqp, self.topic)
            except Exception:  # reconnecting, a busy server: only a 404 counts
                continue
            if not exists and not waiter.done():
                self._cancelled = True
                # Its channel would re-declare the queue's binding to the missing exchange
                # after a reconnect, and that failure stops the whole connection's recovery;
                # closing it also deletes the (exclusive) queue now.
                await self._drop_channel()
                return

    def _convert(self, message: DeliveredMessage) -> Received:
        delivery = message.delivery
        partition = self.partition_of.get(getattr(delivery, "exchange", ""), 0)
        handle = (message.channel, delivery.delivery_tag)  # type: ignore[union-attr]
        return convert(message, self.topic, partition, self.quorum, handle, self.delivery)

    # -- primitives for anymq.delivery -------------------------------------------------------
    native_requeue = True  # basic.nack(requeue=True)
    native_dead_letters = False
    """max_deliveries and dead_letter_topic are the consumer's, not the queue's: Delivery
    dead-letters (its headers, a confirmed publish, then the ack) and counts from the
    quorum queue's x-delivery-count, so a group takes each consumer's settings as on every
    other backend. A queue declared by an older anymq with x-delivery-limit and
    x-dead-letter-exchange keeps them: RabbitMQ still applies them too (see declare.py)."""

    @staticmethod
    def _channel_of(message: Received) -> tuple[aiormq.abc.AbstractChannel, int] | None:
        channel, tag = message.handle
        if channel.is_closed:
            return None  # the channel was lost; RabbitMQ requeued the message
        return channel, tag

    async def ack(self, message: Received) -> None:
        found = self._channel_of(message)
        if found is not None:
            with contextlib.suppress(amqp_errors.ChannelInvalidStateError):
                await found[0].basic_ack(found[1], wait=False)

    async def requeue(self, message: Received, delay: float | None) -> None:
        await self._nack(message, requeue=True)

    async def reject(self, message: Received) -> None:
        await self._nack(message, requeue=False)

    async def dead_letter(self, message: Received, topic: str, headers: dict[str, bytes]) -> None:
        await publish_dead_letter(self.amqp, message, topic, headers)

    async def _nack(self, message: Received, *, requeue: bool) -> None:
        found = self._channel_of(message)
        if found is not None:
            with contextlib.suppress(amqp_errors.ChannelInvalidStateError):
                await found[0].basic_nack(found[1], requeue=requeue, wait=False)


async def publish_dead_letter(
    amqp: Amqp, message: Received, topic: str, headers: dict[str, bytes]
) -> None:
    """Client-side dead letter (a consumer setting; RabbitMQ 3.10 also cannot dead-letter
    into a stream): publish with a confirm; Delivery then acks: never lost, maybe twice."""
    table = hdr.encode(headers, message.key, message.timestamp_ms or hdr.now_ms())
    async with amqp.admin(confirms=True) as channel:
        await channel.basic_publish(
            message.body,
            exchange=topic,
            routing_key=topic,
            properties=spec.Basic.Properties(
                headers=table, delivery_mode=2, message_id=message.message_id
            ),
        )


def convert(
    message: DeliveredMessage,
    topic: str,
    partition: int,
    quorum: bool,
    handle: Any,
    delivery: Delivery,
) -> Received:
    """A delivery as anymq's Received; the count comes from x-delivery-count on quorum
    queues, else from the redelivered flag (1 or 2)."""
    props = message.header.properties
    table = props.headers
    headers, key, ts = hdr.decode(table)
    redelivered = bool(getattr(message.delivery, "redelivered", False))
    count = 2 if redelivered else 1
    if quorum and table:
        raw = table.get(hdr.DELIVERY_COUNT)
        if isinstance(raw, int):
            count = raw + 1
    if ts is None and props.timestamp is not None:
        ts = int(props.timestamp.timestamp() * 1000)
    return Received(
        message.body,
        key,
        headers,
        topic,
        partition,
        None,
        ts,
        count,
        props.message_id,
        handle,
        delivery,
    )
