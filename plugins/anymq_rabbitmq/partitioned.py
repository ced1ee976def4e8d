"""A group member of a partitioned topic: it reads the partitions the roster gives it.

Each of the group's partition queues has ``x-single-active-consumer``, so RabbitMQ lets
one member at a time read it, even while members' rosters disagree. The roster
(roster.py) spreads the partitions: a member subscribes to the ones it owns, each on a
channel of its own, and gives up the ones it no longer owns without breaking a key's order:

1. deliveries of that partition stop being handed out (buffered ones are dropped, still
   unacked on the channel);
2. it waits up to ``handover_timeout`` for the messages of it the application holds to be
   settled;
3. it closes the partition's channel: RabbitMQ returns every unacked message of it to the
   queue in order, marked redelivered, and only then activates the next consumer.

A member that dies (SIGKILL) frees its queues with its connection; the survivors subscribe
to them once the roster has dropped it (``member_timeout``). A channel lost with the
connection is subscribed again once it is back (RabbitMQ has requeued its messages).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

import aiormq
import aiormq.exceptions as amqp_errors
from aiormq.abc import DeliveredMessage
from pamqp import commands as spec

from anymq.backend import ConsumerDriver, ConsumerOptions
from anymq.errors import TopicNotFound
from anymq.message import Received
from anymq_rabbitmq.connection import queue_down
from anymq_rabbitmq.consumer import convert, publish_dead_letter
from anymq_rabbitmq.context import RabbitContext
from anymq_rabbitmq.declare import QueuePlan
from anymq_rabbitmq.naming import Names
from anymq_rabbitmq.options import RabbitOptions
from anymq_rabbitmq.roster import Roster, owner


class Slot:
    """This member's subscription to one partition queue."""

    __slots__ = ("channel", "in_hand", "leaving", "mark", "partition", "settled", "tag")

    def __init__(self, partition: int, channel: aiormq.abc.AbstractChannel) -> None:
        self.partition = partition
        self.channel = channel
        self.tag = ""
        self.in_hand = 0
        """Messages handed to the application and not settled yet."""
        self.leaving = False
        self.settled = asyncio.Event()
        self.mark: tuple[int, int] | None = None
        """Stream mode: the (epoch, offset) of the newest copy handed out."""

    def done_with(self) -> None:
        self.in_hand -= 1
        if self.in_hand <= 0:
            self.settled.set()


class PartitionedConsumer(ConsumerDriver):
    """Reads the partition queues of one group that the roster assigns to this member."""

    native_requeue = True
    native_dead_letters = False  # a consumer setting, as on a group queue (consumer.py)

    def __init__(self, context: RabbitContext, options: ConsumerOptions, plan: QueuePlan) -> None:
        assert options.group is not None
        settings = RabbitOptions.parse(options.extra, "consumer", defaults=context.options)
        self.amqp = context.amqp
        self.topic = options.topic
        self.queues = plan.partitions
        self.quorum = plan.quorum
        self.prefetch = options.prefetch
        self.handover_timeout = float(settings.handover_timeout)
        self.roster = Roster(
            self.amqp,
            Names.roster(options.topic, options.group),
            float(settings.member_timeout),
            self._poke_soon,
        )
        self.slots: dict[int, Slot] = {}
        self._ready: deque[tuple[Slot, DeliveredMessage]] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._poke = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._leaving: set[asyncio.Task[None]] = set()
        self._gone = False
        self.closed = False

    # -- membership ----------------------------------------------------------------------
    async def start(self) -> None:
        await self.roster.start()
        try:
            await self._reconcile()
        except BaseException:
            await self.close()
            raise
        self._task = asyncio.create_task(self._run())

    def owned(self) -> set[int]:
        """The partitions this member's roster gives it."""
        members = self.roster.members()
        me, count = members.index(self.roster.me), len(self.queues)
        return {p for p in range(count) if owner(p, count, len(members)) == me}

    def partitions_held(self) -> tuple[int, ...]:
        """The partitions this member reads now (subscribed, not being given up)."""
        return tuple(sorted(p for p, slot in self.slots.items() if not slot.leaving))

    def _pause(self) -> float:
        """Seconds until the next look at the roster when nothing pokes earlier."""
        return self.roster.interval

    def _poke_soon(self) -> None:
        self._poke.set()

    async def _run(self) -> None:
        while not self.closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), self._pause())
            self._poke.clear()
            if self.closed:
                return
            with contextlib.suppress(Exception):  # reconnecting: the next round tries again
                await self._reconcile()

    async def _reconcile(self) -> None:
        """Subscribe to owned partitions, give up the others (in the background)."""
        async with self._lock:
            if self.closed or self._gone:
                return
            wanted = self.owned()
            for partition, slot in list(self.slots.items()):
                if slot.leaving:
                    continue
                if slot.channel.is_closed:  # lost with the connection: RabbitMQ requeued
                    self._drop(slot)
                    del self.slots[partition]
                elif partition not in wanted:
                    task = asyncio.create_task(self._release(slot))
                    self._leaving.add(task)
                    task.add_done_callback(self._leaving.discard)
            for partition in sorted(wanted - set(self.slots)):
                await self._subscribe(partition)

    async def _subscribe(self, partition: int) -> None:
        queue = self.queues[partition]
        channel = await self.amqp.raw_channel()
        slot = Slot(partition, channel)

        async def on_message(message: DeliveredMessage) -> None:
            if slot.leaving or self.closed:
                return  # stays unacked: closing the channel returns it in order
            self._ready.append((slot, message))
            self._wake()

        def on_cancel(frame: spec.Basic.Cancel) -> None:
            if frame.consumer_tag == slot.tag and not self.closed:
                self._gone = True  # RabbitMQ cancels consumers of a deleted queue
                self._wake()

        try:
            await channel.basic_qos(prefetch_count=self.prefetch)
            channel.on_consumer_cancel_callbacks.add(on_cancel)
            ok = await channel.basic_consume(queue, on_message, no_ack=False)
        except amqp_errors.ChannelNotFoundEntity as exc:
            if queue_down(exc):
                raise  # exists, still starting after a restart: the next round tries again
            self._gone = True
            self._wake()
            return
        except BaseException:
            with contextlib.suppress(Exception):
                await channel.close()
            raise
        slot.tag = ok.consumer_tag or ""
        self.slots[partition] = slot
        if self.closed:
            await self._close_slot(slot)

    async def _release(self, slot: Slot) -> None:
        """Give a partition up without breaking its order (see the module's docstring)."""
        slot.leaving = True
        self._drop(slot)
        if slot.in_hand > 0 and self.handover_timeout > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(slot.settled.wait(), self.handover_timeout)
        await self._close_slot(slot)
        if self.slots.get(slot.partition) is slot:
            del self.slots[slot.partition]
        self._poke.set()  # owned again meanwhile? subscribe anew

    def _drop(self, slot: Slot) -> None:
        """Forget the buffered deliveries of ``slot`` (they go back with its channel)."""
        kept = [entry for entry in self._ready if entry[0] is not slot]
        self._ready.clear()
        self._ready.extend(kept)

    @staticmethod
    async def _close_slot(slot: Slot) -> None:
        with contextlib.suppress(Exception):
            await slot.channel.close()

    # -- receiving ---------------------------------------------------------------------
    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def receive(self, max_messages: int, timeout: float | None) -> list[Received]:
        ready = self._ready
        if not ready:
            if self.closed:
                return []
            if self._gone:
                raise TopicNotFound(self.topic, "rabbitmq", "it was deleted while consuming")
            if timeout is not None and timeout <= 0:
                return []
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            try:
                await asyncio.wait_for(waiter, timeout)
            except TimeoutError:
                return []
            finally:
                self._waiter = None
            if self._gone and not ready:
                raise TopicNotFound(self.topic, "rabbitmq", "it was deleted while consuming")
        out: list[Received] = []
        while ready and len(out) < max_messages:
            slot, message = ready.popleft()
            if slot.leaving or message.channel.is_closed:
                continue  # goes back to the queue with its channel
            if self._repeated(slot, message):
                tag = int(message.delivery.delivery_tag or 0)  # type: ignore[union-attr]
                with contextlib.suppress(amqp_errors.ChannelInvalidStateError):
                    await message.channel.basic_ack(tag, wait=False)
                continue
            slot.in_hand += 1
            slot.settled.clear()
            out.append(self._received(slot, message))
        return out

    def _repeated(self, slot: Slot, message: DeliveredMessage) -> bool:
        """A second copy of a message already handed out (stream mode's pumps)."""
        return False

    def _received(self, slot: Slot, message: DeliveredMessage) -> Received:
        handle = (message.channel, message.delivery.delivery_tag, slot)  # type: ignore[union-attr]
        return convert(message, self.topic, slot.partition, self.quorum, handle, self.delivery)

    # -- primitives for anymq.delivery ---------------------------------------------------
    def holds(self, message: Received) -> bool:
        channel: aiormq.abc.AbstractChannel = message.handle[0]
        return not channel.is_closed

    async def ack(self, message: Received) -> None:
        channel, tag, slot = message.handle
        try:
            if not channel.is_closed:
                with contextlib.suppress(amqp_errors.ChannelInvalidStateError):
                    await channel.basic_ack(tag, wait=False)
        finally:
            slot.done_with()

    async def requeue(self, message: Received, delay: float | None) -> None:
        await self._nack(message, requeue=True)

    async def dead_letter(self, message: Received, topic: str, headers: dict[str, bytes]) -> None:
        await publish_dead_letter(self.amqp, message, topic, headers)

    async def reject(self, message: Received) -> None:
        await self._nack(message, requeue=False)

    async def _nack(self, message: Received, *, requeue: bool) -> None:
        channel, tag, slot = message.handle
        try:
            if not channel.is_closed:
                with contextlib.suppress(amqp_errors.ChannelInvalidStateError):
                    await channel.basic_nack(tag, requeue=requeue, wait=False)
        finally:
            slot.done_with()

    async def close(self) -> None:
        """Say goodbye (the others take the partitions over at once), then close every
        partition channel: what was not settled goes back to the queues.

        Nothing running is cancelled while it may be inside an AMQP call: aiormq closes a
        channel whose call was cancelled, and a channel closed that way while deliveries
        arrive can stall the reader of the whole shared connection. The background work
        sees ``closed`` and ends after its current step.
        """
        if self.closed:
            return
        self.closed = True
        self._ready.clear()
        self._wake()
        self._poke.set()
        for slot in list(self.slots.values()):
            slot.settled.set()  # handovers in progress stop waiting for the application
        await _finish(self._task)
        await self.roster.close()
        for task in list(self._leaving):
            await _finish(task)
        async with self._lock:
            slots = list(self.slots.values())
        for slot in slots:
            await self._close_slot(slot)


async def _finish(task: asyncio.Task[None] | None, patience: float = 10.0) -> None:
    """Let ``task`` end by itself; cancel it only if it hangs (a connection that stays down)."""
    if task is None or task.done():
        return
    with contextlib.suppress(BaseException):
        await asyncio.wait_for(asyncio.shield(task), patience)
    if not task.done():
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
