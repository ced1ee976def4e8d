"""The nats:// consumer: pulls from the group's durable consumer (or a private ephemeral one)
and settles with JetStream's acks: +ACK, -NAK (with a delay), +TERM.

Pull requests go out on this consumer's own inbox, one at a time, so every message the
server delivered to it is known here: close() naks them all (held by the application or
not yet handed out), and the group gets them again at once instead of after ``ack_wait``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import api as js_api

from anymq.backend import ConsumerDriver, ConsumerOptions, Outgoing
from anymq.errors import BrokerError, ClosedError, ConfigError
from anymq.message import DONE, Received
from anymq.model import Position, Retention
from anymq_nats import codec
from anymq_nats.driver import deliver_from
from anymq_nats.errors import CONSUMER_NOT_FOUND, code, mapped
from anymq_nats.options import NatsOptions
from anymq_nats.producer import Publisher

if TYPE_CHECKING:
    from anymq_nats.driver import NatsBroker

PULL_SECONDS = 1.0
"""Longest a pull request waits on the server: a deleted topic is noticed by then at the
latest, and close() waits for the open request to end."""
INACTIVE_SECONDS = 3600.0
"""The server removes a private consumer whose client vanished after this long."""


class NatsConsumer(ConsumerDriver):
    native_requeue = True  # -NAK hands it back to the group
    native_delay = True  # -NAK {"delay": ...}

    def __init__(self, broker: NatsBroker, options: ConsumerOptions) -> None:
        self.broker = broker
        self.options = options
        self.settings = NatsOptions.parse(options.extra, "consumer", defaults=broker.options)
        self.topic = options.topic
        self.stream = codec.stream_name(options.topic)
        self.name: str | None = None
        self.sub: Subscription | None = None
        self.next_subject = ""
        self.ready: deque[Msg] = deque()
        self.arrived = asyncio.Event()
        self.open_until = 0.0
        """Loop time the outstanding pull request expires (0: none outstanding)."""
        self.wanted = 0
        self.gone = False
        """The server said this consumer no longer exists (stream or consumer deleted)."""
        self.held: dict[int, Msg] = {}
        self.generation = 0
        self.last_seq = 0
        self.closed = False
        self.publisher = Publisher(broker, "hash", broker.settings.publish_timeout)

    # -- subscribing -----------------------------------------------------------------------
    async def start(self) -> None:
        info = await self.broker.stream(self.topic)
        dlt = self.options.dead_letter_topic
        try:
            if dlt is not None:
                partitions = len(info.config.subjects or ()) or 1
                await self.broker.create_topic(
                    dlt, partitions=partitions, retention=Retention(), options={}
                )
            await self._open(self.options.start)
        except BaseException:
            await self._release()
            raise

    async def _open(self, position: Position) -> None:
        """Find or make the consumer at ``position`` and subscribe a fresh inbox to it."""
        broker, js = self.broker, self.broker.js
        group = self.options.group
        if group is not None:
            await broker.ensure_group(self.topic, group, position, self.settings.ack_wait)
            self.name = codec.durable_name(group)
        else:
            config = js_api.ConsumerConfig(
                ack_policy=js_api.AckPolicy.EXPLICIT,
                ack_wait=self.settings.ack_wait,
                max_deliver=-1,
                inactive_threshold=INACTIVE_SECONDS,
                **deliver_from(position),
            )
            try:
                created = await js.add_consumer(self.stream, config)
            except Exception as exc:
                raise mapped(exc, broker.address, topic=self.topic) from exc
            self.name = created.name
        nc = broker.nc
        assert nc is not None
        self.sub = await nc.subscribe(nc.new_inbox(), cb=self._arrive)
        self.next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{self.stream}.{self.name}"
        self.open_until, self.gone = 0.0, False

    async def _arrive(self, msg: Msg) -> None:
        if msg.reply:  # a message (status messages have no reply subject)
            self.ready.append(msg)
            self.wanted -= 1
            if self.wanted <= 0:
                self.open_until = 0.0
        else:
            status = (msg.headers or {}).get("Status", "")
            if status == "100":
                return  # idle heartbeat
            self.open_until = 0.0  # 404 no messages, 408 expired, 409 / 503: the request ended
            if status in ("409", "503") and "exceed" not in str(msg.headers).lower():
                self.gone = True  # consumer deleted, or nobody serves its requests
        self.arrived.set()

    async def _release(self) -> None:
        """Unsubscribe; a private consumer is deleted."""
        sub, self.sub = self.sub, None
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        if self.options.group is None and self.name is not None:
            with contextlib.suppress(Exception):
                await self.broker.js.delete_consumer(self.stream, self.name)

    # -- receiving -------------------------------------------------------------------------
    async def receive(self, max_messages: int, timeout: float | None) -> list[Received]:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            if self.closed or self.sub is None:
                raise ClosedError("consumer is closed")
            if self.ready:
                return self._take(max_messages)
            if self.gone:
                await self._recover()
            now = loop.time()
            remaining = PULL_SECONDS if deadline is None else deadline - now
            if remaining <= 0:
                return []
            if now >= self.open_until:
                await self._pull(max(max_messages, self.options.prefetch), now, remaining)
            self.arrived.clear()
            wait = min(remaining, self.open_until - now + 0.2)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), wait)

    async def _pull(self, batch: int, now: float, remaining: float) -> None:
        seconds = min(PULL_SECONDS, max(0.05, remaining))
        request = {"batch": batch, "expires": int(seconds * 1e9)}
        nc, sub = self.broker.nc, self.sub
        assert nc is not None
        assert sub is not None
        self.open_until, self.wanted = now + seconds, batch
        try:
            await nc.publish(self.next_subject, json.dumps(request).encode(), reply=sub.subject)
        except Exception as exc:
            self.open_until = 0.0
            raise mapped(exc, self.broker.address) from exc

    async def _recover(self) -> None:
        """The server dropped this consumer: TopicNotFound if its topic went; a private
        consumer removed for inactivity is made again after the last message seen."""
        await self.broker.stream(self.topic)
        try:
            await self.broker.js.consumer_info(self.stream, self.name or "")
            self.gone = False  # it is back (a seek of another member made it again)
            return
        except Exception as exc:
            if code(exc) != CONSUMER_NOT_FOUND:
                raise mapped(exc, self.broker.address, topic=self.topic) from exc
        if self.options.group is not None:
            raise BrokerError(
                f"the consumer of group {self.options.group!r} on {self.topic!r} was deleted "
                "on the server; consume again to recreate the group"
            )
        await self._reopen(Position.at_offset(self.last_seq + 1))

    async def _reopen(self, position: Position) -> None:
        self.generation += 1
        self.held.clear()
        self.ready.clear()
        sub, self.sub = self.sub, None
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        await self._open(position)

    def _take(self, limit: int) -> list[Received]:
        out: list[Received] = []
        ready, held, topic, generation = self.ready, self.held, self.topic, self.generation
        while ready and len(out) < limit:
            msg = ready.popleft()
            meta = msg.metadata
            seq = meta.sequence.stream
            held[seq] = msg
            self.last_seq = max(self.last_seq, seq)
            key, headers = codec.decode_headers(msg.headers)
            out.append(
                Received(
                    msg.data,
                    key,
                    headers,
                    topic,
                    int(msg.subject.rpartition(".")[2]),
                    seq,
                    int(meta.timestamp.timestamp() * 1000),
                    meta.num_delivered,
                    None,
                    (msg, generation),
                    self.delivery,
                )
            )
        return out

    # -- primitives for anymq.delivery -----------------------------------------------------
    def _settle(self, message: Received, verb: bytes) -> Awaitable[None]:
        msg, generation = message.handle
        if generation != self.generation or self.held.pop(message.offset or 0, None) is None:
            return DONE  # delivered before a seek, or already settled: nothing to tell
        nc = self.broker.nc
        if nc is None:
            raise ClosedError("broker is closed")
        return nc.publish(msg.reply, verb)

    def ack(self, message: Received) -> Awaitable[None]:
        return self._settle(message, b"+ACK")

    async def ack_many(self, messages: Sequence[Received]) -> None:
        for message in messages:
            await self._settle(message, b"+ACK")

    def holds(self, message: Received) -> bool:
        return (
            not self.closed and message.handle[1] == self.generation and message.offset in self.held
        )

    def requeue(self, message: Received, delay: float | None) -> Awaitable[None]:
        if not delay:
            return self._settle(message, b"-NAK")
        return self._settle(message, b"-NAK " + json.dumps({"delay": int(delay * 1e9)}).encode())

    async def reject(self, message: Received) -> None:
        await self._settle(message, b"+TERM")  # never again to this group

    async def dead_letter(self, message: Received, topic: str, headers: dict[str, bytes]) -> None:
        partitions = await self.publisher.partitions(topic)
        letter = Outgoing(message.body, message.key, headers, (message.partition or 0) % partitions)
        await self.publisher.publish(topic, [letter])

    async def seek(self, position: Position) -> None:
        """Make the consumer again at ``position``: for a group, the group's position moves
        (every member continues from there)."""
        if self.closed:
            raise ClosedError("consumer is closed")
        partitions = await self.publisher.partitions(self.topic)
        if position.partition is not None and partitions > 1:
            raise ConfigError(
                "nats offsets are stream sequences shared by all partitions of a topic: seek "
                f"{self.topic!r} ({partitions} partitions) without partition="
            )
        if self.options.group is not None:
            with contextlib.suppress(Exception):
                await self.broker.js.delete_consumer(self.stream, self.name or "")
        else:
            await self._release()
        try:
            await self._reopen(position)
        except Exception as exc:
            raise mapped(exc, self.broker.address, topic=self.topic) from exc

    async def close(self) -> None:
        """Nak what was delivered here and not settled: the group has it again at once.

        An open pull request would take the nak'd messages straight back to this (closing)
        inbox, and nats-server 2.9 delivers to it even after an unsubscribe: so close first
        waits for the request to end (at most PULL_SECONDS), then naks everything."""
        if self.closed:
            return
        self.closed = True
        nc, loop = self.broker.nc, asyncio.get_running_loop()
        if nc is not None and not nc.is_closed and self.sub is not None:
            with contextlib.suppress(Exception):
                while (left := self.open_until - loop.time()) > 0:
                    self.arrived.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.arrived.wait(), left + 0.2)
                pending = list(self.held.values()) + list(self.ready)
                for msg in pending:
                    await nc.publish(msg.reply, b"-NAK")
                await nc.flush(timeout=max(1, round(self.settings.connect_timeout)))
        self.held.clear()
        self.ready.clear()
        await self._release()
