"""The nats:// consumer: a group member pulling from the durable consumers of the partitions
it holds (:mod:`anymq_nats.members`), or, without a group, from a private ephemeral consumer
of the whole stream; settles with JetStream's acks: +ACK, -NAK (with a delay), +TERM.

Each JetStream consumer is read through a :class:`~anymq_nats.puller.Puller`, so every
message the server delivered here is known: close() and a partition handover nak them all
(held by the application or not yet handed out), and the next reader gets them again at
once, before anything newer, instead of after ``ack_wait``. While a member lives it tells
the server it is still working on what it holds (+WPI), so ``ack_wait`` only frees the
messages of a member that died.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import api as js_api

from anymq.backend import ConsumerDriver, ConsumerOptions, Outgoing
from anymq.errors import BrokerError, ClosedError, ConfigError
from anymq.message import DONE, Received
from anymq.model import Position, Retention
from anymq_nats import codec
from anymq_nats.driver import deliver_from
from anymq_nats.errors import CONSUMER_NOT_FOUND, code, mapped
from anymq_nats.members import BEAT_SECONDS, Membership, lease_ttl
from anymq_nats.options import NatsOptions
from anymq_nats.producer import Publisher
from anymq_nats.puller import PULL_SECONDS, Puller

if TYPE_CHECKING:
    from anymq_nats.driver import NatsBroker

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
        self.group = options.group
        self.stream = codec.stream_name(options.topic)
        self.pullers: dict[int | None, Puller] = {}
        """Partition -> its puller (a group member); None -> the private consumer's."""
        self.arrived = asyncio.Event()
        self.held: dict[int, tuple[Msg, Puller]] = {}
        """Stream sequence -> what was handed out and is not settled."""
        self.generation = 0
        self.last_seq = 0
        self.members: Membership | None = None
        self.lock = asyncio.Lock()
        self.heart: asyncio.Task[None] | None = None
        self.next_progress = 0.0
        self.closed = False
        self.publisher = Publisher(broker, "hash", broker.settings.publish_timeout)

    # -- subscribing -----------------------------------------------------------------------
    async def start(self) -> None:
        info = await self.broker.stream(self.topic)
        partitions = len(info.config.subjects or ()) or 1
        dlt = self.options.dead_letter_topic
        try:
            if dlt is not None:
                await self.broker.create_topic(
                    dlt, partitions=partitions, retention=Retention(), options={}
                )
            if self.group is None:
                await self._open_private(self.options.start)
            else:
                ack_wait = self.settings.ack_wait
                await self.broker.ensure_group(self.topic, self.group, self.options.start, ack_wait)
                self.members = Membership(self.broker.js, self.stream, self.group, partitions)
                try:
                    await self.members.join(ack_wait)
                    await self._join()
                except Exception as exc:
                    raise mapped(exc, self.broker.address, topic=self.topic) from exc
        except BaseException:
            await self._release()
            raise
        self.heart = asyncio.create_task(self._heartbeat())

    async def _open_private(self, position: Position) -> None:
        """Make a private consumer at ``position`` and subscribe a fresh inbox to it."""
        config = js_api.ConsumerConfig(
            ack_policy=js_api.AckPolicy.EXPLICIT,
            ack_wait=self.settings.ack_wait,
            max_deliver=-1,
            inactive_threshold=INACTIVE_SECONDS,
            **deliver_from(position),
        )
        try:
            created = await self.broker.js.add_consumer(self.stream, config)
        except Exception as exc:
            raise mapped(exc, self.broker.address, topic=self.topic) from exc
        puller = self.pullers[None] = Puller(self.stream, created.name, self.arrived, None)
        await puller.subscribe(self._nc())

    def _nc(self) -> Client:
        nc = self.broker.nc
        if nc is None:
            raise ClosedError("broker is closed")
        return nc

    async def _join(self) -> None:
        """Wait (up to a lease's life, until a dead owner's lease ran out) for this member's
        share: the others hand partitions over between two pulls."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + lease_ttl(self.settings.ack_wait) + 1.0
        while True:
            async with self.lock:
                target = await self._rebalance()
            if set(self.pullers) == target or loop.time() >= deadline:
                return
            await asyncio.sleep(0.05)

    async def _heartbeat(self) -> None:
        """Keep the roster entry and the leases alive, move partitions between pulls, and
        tell the server this member still works on what it holds."""
        loop = asyncio.get_running_loop()
        while not self.closed:
            await asyncio.sleep(BEAT_SECONDS)
            with contextlib.suppress(Exception):  # the next receive reports it
                async with self.lock:
                    if self.closed:
                        return
                    if self.members is not None:
                        await self._rebalance()
                    if loop.time() >= self.next_progress:
                        self.next_progress = loop.time() + max(
                            BEAT_SECONDS, self.settings.ack_wait / 3
                        )
                        await self._progress()

    async def _progress(self) -> None:
        nc = self._nc()
        for msg, _ in list(self.held.values()):
            await nc.publish(msg.reply, b"+WPI")
        for puller in self.pullers.values():
            for msg in list(puller.ready):
                await nc.publish(msg.reply, b"+WPI")

    async def _rebalance(self) -> set[int]:
        """Hand back what is no longer this member's, renew the rest, take what is; return
        this member's target partitions."""
        members = self.members
        assert members is not None
        target = await members.target()
        for p in [p for p in self.pullers if p is not None and p not in target]:
            await self._hand_back(p)
            await members.release(p)
        for p in await members.keep():
            await self._drop(p)  # its lease ran out and another member took it
        for p in sorted(target - set(self.pullers)):
            if await members.acquire(p):
                assert self.group is not None
                name = codec.partition_durable(self.group, p)
                puller = Puller(self.stream, name, self.arrived, p)
                await puller.subscribe(self._nc())
                self.pullers[p] = puller
        return target

    async def _hand_back(self, partition: int) -> None:
        """Between two pulls: nak, in order, what this member got of ``partition`` and did
        not settle, so the next owner gets it before anything newer."""
        puller = self.pullers.pop(partition)
        await puller.settle_requests()
        mine = sorted(seq for seq, (_, p) in self.held.items() if p is puller)
        pending = [self.held.pop(seq)[0] for seq in mine] + puller.hand_back()
        await self._nak_all(pending)
        if not puller.open_until:
            await puller.unsubscribe()
        else:  # the end of its request went unseen: keep nak'ing what still comes, a while
            later = asyncio.get_running_loop().call_later
            later(PULL_SECONDS * 2, lambda: asyncio.ensure_future(puller.unsubscribe()))

    async def _nak_all(self, pending: list[Msg]) -> None:
        """Nak in order and wait until the server applied the naks: it handles acks apart
        from pull requests, so the next reader's first pull could otherwise overtake them
        and get a newer message of a key first. The last nak asks for a reply (sent once
        that ack and so all before it were processed)."""
        if not pending:
            return
        nc = self._nc()
        for msg in pending[:-1]:
            await nc.publish(msg.reply, b"-NAK")
        await nc.request(pending[-1].reply, b"-NAK", timeout=self.broker.settings.connect_timeout)

    async def _drop(self, partition: int) -> None:
        """Forget a partition whose lease another member took: what it held is the server's."""
        puller = self.pullers.pop(partition, None)
        if puller is not None:
            for seq in [seq for seq, (_, p) in self.held.items() if p is puller]:
                del self.held[seq]
            await puller.unsubscribe()

    async def _release(self) -> None:
        """Unsubscribe; a private consumer is deleted; the group's keys are given up."""
        pullers, self.pullers = list(self.pullers.values()), {}
        for puller in pullers:
            await puller.unsubscribe()
        if self.group is None:
            for puller in pullers:
                with contextlib.suppress(Exception):
                    await self.broker.js.delete_consumer(self.stream, puller.name)
        if self.members is not None:
            with contextlib.suppress(Exception):
                await self.members.leave()

    # -- receiving -------------------------------------------------------------------------
    async def receive(self, max_messages: int, timeout: float | None) -> list[Received]:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        batch = max(max_messages, self.options.prefetch)
        while True:
            if self.closed:
                raise ClosedError("consumer is closed")
            if any(p.ready for p in self.pullers.values()):
                return self._take(max_messages)
            now = loop.time()
            remaining = PULL_SECONDS if deadline is None else deadline - now
            if remaining <= 0:
                return []
            async with self.lock:
                if self.closed:
                    raise ClosedError("consumer is closed")
                for puller in list(self.pullers.values()):
                    if puller.gone:
                        await self._recover(puller)
                nc, where = self._nc(), self.broker.address
                for puller in self.pullers.values():
                    await puller.pull(nc, batch, now, remaining, where)
            self.arrived.clear()
            if any(p.ready for p in self.pullers.values()):
                continue
            ends = [p.open_until for p in self.pullers.values() if p.open_until]
            wait = max(max(ends) - now + 0.2, 0.05) if ends else 0.1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), min(remaining, wait))

    async def _recover(self, puller: Puller) -> None:
        """The server dropped a consumer: TopicNotFound if its topic went; a private
        consumer removed for inactivity is made again after the last message seen."""
        await self.broker.stream(self.topic)
        try:
            await self.broker.js.consumer_info(self.stream, puller.name)
            puller.gone = False  # it is back (a seek of another member made it again)
            return
        except Exception as exc:
            if code(exc) != CONSUMER_NOT_FOUND:
                raise mapped(exc, self.broker.address, topic=self.topic) from exc
        if self.group is not None:
            raise BrokerError(
                f"the consumer of group {self.group!r} on {self.topic!r} was deleted "
                "on the server; consume again to recreate the group"
            )
        await self._reopen_private(Position.at_offset(self.last_seq + 1))

    async def _reopen_private(self, position: Position) -> None:
        self.generation += 1
        self.held.clear()
        puller = self.pullers.pop(None, None)
        if puller is not None:
            await puller.unsubscribe()
        await self._open_private(position)

    def _take(self, limit: int) -> list[Received]:
        out: list[Received] = []
        held, topic, generation = self.held, self.topic, self.generation
        for puller in self.pullers.values():
            ready = puller.ready
            while ready and len(out) < limit:
                msg = ready.popleft()
                meta = msg.metadata
                seq = meta.sequence.stream
                held[seq] = (msg, puller)
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
            return DONE  # delivered before a seek or a handover, or already settled
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
        """Make the consumer(s) again at ``position``: for a group, the group's position moves
        (every member continues from there)."""
        if self.closed:
            raise ClosedError("consumer is closed")
        partitions = await self.publisher.partitions(self.topic)
        if position.partition is not None and partitions > 1:
            raise ConfigError(
                "nats offsets are stream sequences shared by all partitions of a topic: seek "
                f"{self.topic!r} ({partitions} partitions) without partition="
            )
        async with self.lock:
            try:
                if self.group is None:
                    await self._reopen_private(position)
                    return
                js = self.broker.js
                for p in range(partitions):
                    with contextlib.suppress(Exception):
                        await js.delete_consumer(
                            self.stream, codec.partition_durable(self.group, p)
                        )
                await self.broker.ensure_group(
                    self.topic, self.group, position, self.settings.ack_wait
                )
                self.generation += 1
                self.held.clear()
                for puller in self.pullers.values():
                    puller.ready.clear()
                    await puller.unsubscribe()
                    await puller.subscribe(self._nc())
            except (ClosedError, ConfigError):
                raise
            except Exception as exc:
                raise mapped(exc, self.broker.address, topic=self.topic) from exc

    async def close(self) -> None:
        """Nak what was delivered here and not settled: the group has it again at once.

        An open pull request would take the nak'd messages straight back to this (closing)
        inbox, and nats-server 2.9 delivers to it even after an unsubscribe: so close first
        waits for the requests to end (at most PULL_SECONDS), then naks everything, then
        gives up the group's partitions."""
        if self.closed:
            return
        self.closed = True
        if self.heart is not None:
            self.heart.cancel()
        async with self.lock:
            nc = self.broker.nc
            if nc is not None and not nc.is_closed:
                with contextlib.suppress(Exception):
                    for puller in self.pullers.values():
                        await puller.settle_requests()
                    pending = [self.held[seq][0] for seq in sorted(self.held)]
                    for puller in self.pullers.values():
                        pending += puller.ready
                    await self._nak_all(pending)
            self.held.clear()
            await self._release()
