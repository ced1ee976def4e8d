"""``mode=stream`` on a partitioned topic: a stream per partition, and per group a work queue,
a pump, an offset and a control queue per partition.

Each partition works like a whole unpartitioned stream-mode group (streamgroup.py): its
pump copies the group's share of the partition's stream into the partition's work queue
and stores the next offset. The work queues have ``x-single-active-consumer`` and are
spread over the members by the same roster as in classic mode (partitioned.py); a member
also runs the pumps of the partitions it owns (one per work queue at a time: the pump's
lock queue), so a handover moves reading and copying together. A consumer without a group
reads every partition's stream.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiormq.abc import DeliveredMessage

from anymq.backend import ConsumerDriver, ConsumerOptions
from anymq.errors import ConfigError
from anymq.message import Received
from anymq.model import Position as Pos
from anymq_rabbitmq import headers as hdr
from anymq_rabbitmq.context import RabbitContext
from anymq_rabbitmq.declare import QueuePlan, StreamGroupPlan, prepare_stream_group, stream_topic
from anymq_rabbitmq.naming import Names
from anymq_rabbitmq.partitioned import PartitionedConsumer, Slot
from anymq_rabbitmq.picking import PickingConsumer
from anymq_rabbitmq.streamgroup import (
    CONTEND_INTERVAL,
    PumpSeats,
    Seat,
    StreamBroadcastConsumer,
    StreamGroupConsumer,
    local_seek,
    remote_seek,
)
from anymq_rabbitmq.streams import position_request
from anymq_rabbitmq.topology import TopicMeta


def _parts(meta: TopicMeta, position: Pos) -> list[int]:
    """The partitions a seek moves: the one it names, else all."""
    if position.partition is None:
        return list(range(meta.partitions))
    if not 0 <= position.partition < meta.partitions:
        raise ConfigError(
            f"partition {position.partition} does not exist: topic {meta.name!r} has "
            f"{meta.partitions} partitions (0 to {meta.partitions - 1})"
        )
    return [position.partition]


class PartitionedStreamGroup(PartitionedConsumer):
    """A member of a stream-mode group on a partitioned topic (see the module docstring)."""

    def __init__(
        self,
        context: RabbitContext,
        options: ConsumerOptions,
        plan: StreamGroupPlan,
        seats: PumpSeats,
    ) -> None:
        super().__init__(
            context, options, QueuePlan(plan.queue, plan.quorum, {}, partitions=plan.partitions)
        )
        assert options.group is not None
        self.context = context
        self.group: str = options.group
        self.meta = plan.meta
        self.bindings = plan.bindings
        self.seats = seats
        self.pumps = [Seat(self, seats, work, p) for p, work in enumerate(self.queues)]
        self._pumping = asyncio.Lock()
        self._unpumped = False
        self._stopping = False
        """An owned partition's pump is still held elsewhere (its old owner is stopping it)."""

    def _pause(self) -> float:
        return CONTEND_INTERVAL if self._unpumped else super()._pause()

    async def _reconcile(self) -> None:
        await super()._reconcile()
        await self._pump_owned()

    async def _pump_owned(self) -> None:
        """Run the pumps of the partitions this member owns, stop the others' (a stop
        stores the offset of what was copied, so the next owner goes on from there)."""
        async with self._pumping:
            stopped = self.closed or self._stopping or self._gone  # gone: topic deleted
            owned = set() if stopped else self.owned()
            for partition, seat in enumerate(self.pumps):
                if seat.failed or (partition not in owned and seat.task is not None):
                    await seat.release()
                if partition in owned and not seat.leading:
                    with contextlib.suppress(Exception):  # held elsewhere: the next round
                        await seat.try_lead()
            self._unpumped = any(not self.pumps[p].leading for p in owned)

    def _repeated(self, slot: Slot, message: DeliveredMessage) -> bool:
        """A copy the pump made again after a crash, behind later copies of its batch.

        A pump stores its offset after each copied batch; a pump killed in between makes
        the next one copy that batch again, behind what is left of the first copies. Copies
        of one epoch enter the work queue in offset order, so a copy never delivered before
        (not redelivered) whose (epoch, offset) is not after the newest one handed out is
        such a repeat: everything before it in the queue was delivered already. It is
        acked and not handed out, which keeps each key in order. A seek starts a new epoch.
        """
        table = message.header.properties.headers or {}
        offset, epoch = table.get(hdr.OFFSET), table.get(hdr.EPOCH, 0)
        if not isinstance(offset, int) or not isinstance(epoch, int):
            return False
        mark = (epoch, offset)
        redelivered = bool(getattr(message.delivery, "redelivered", False))
        if slot.mark is not None and mark <= slot.mark and not redelivered:
            return True
        if slot.mark is None or mark > slot.mark:
            slot.mark = mark
        return False

    def _received(self, slot: Slot, message: DeliveredMessage) -> Received:
        received = super()._received(slot, message)
        offset = (message.header.properties.headers or {}).get(hdr.OFFSET)
        received.offset = offset if isinstance(offset, int) else None
        return received

    async def seek(self, position: Pos) -> None:
        """Move the named partition (or every one): give back what this member holds of
        it, then its pump — here or in the member that runs it — purges the work queue
        and reads the stream again from the new position."""
        parts = _parts(self.meta, position)
        request = position_request(position)
        timeout = self.context.settings.publish_timeout
        async with self._lock:
            for partition in parts:
                slot = self.slots.pop(partition, None)
                if slot is not None:
                    slot.leaving = True
                    self._drop(slot)
                    await self._close_slot(slot)
        await self._pump_owned()
        try:
            for partition in parts:
                holder = self.seats.holders.get(self.queues[partition])
                if holder is not None and holder.pump is not None:
                    await local_seek(self.amqp, self.group, holder.pump, request)
                else:
                    control = Names.control(self.topic, self.group, partition)
                    await remote_seek(self.amqp, self.group, control, request, timeout)
        finally:
            await self._reconcile()

    async def close(self) -> None:
        """Stop this member's pumps first (each stores the offset of what it copied), then
        leave: the members taking the partitions over find the pumps free."""
        if self.closed:
            return
        self._stopping = True  # no round of _run starts a pump again
        async with self._pumping:
            for seat in self.pumps:
                if seat.leading or seat.task is not None:
                    await seat.release()
        await super().close()


class PartitionedStreamBroadcast(ConsumerDriver):
    """A consumer without a group on a partitioned stream-mode topic: a reader per
    partition's stream; a receive takes what any of them has."""

    def __init__(self, context: RabbitContext, options: ConsumerOptions, meta: TopicMeta) -> None:
        self.meta = meta
        self.parts = [
            StreamBroadcastConsumer(context, options, partition=p, meta=meta)
            for p in range(meta.partitions)
        ]
        self._next = 0
        self.closed = False

    async def start(self) -> None:
        try:
            for part in self.parts:
                part.delivery = self.delivery
                await part.start()
        except BaseException:
            await self.close()
            raise

    def _rotated(self) -> list[StreamBroadcastConsumer]:
        """Every partition, starting with the next one in turn (no partition starves)."""
        self._next = (self._next + 1) % len(self.parts)
        return self.parts[self._next :] + self.parts[: self._next]

    async def receive(self, max_messages: int, timeout: float | None) -> list[Received]:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            out: list[Received] = []
            for part in self._rotated():
                reader = part.reader
                if reader is None or len(out) >= max_messages:
                    continue
                error = reader.error
                failed = isinstance(error, Exception) and not reader.ready
                if failed and not await part._resume(error, deadline):  # type: ignore[arg-type]
                    continue
                out += await part.take_ready(max_messages - len(out))
            if out or self.closed:
                return out
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return []
            waits = [
                asyncio.ensure_future(part.reader.wait(remaining))
                for part in self.parts
                if part.reader is not None
            ]
            if not waits:
                return []
            done, pending = await asyncio.wait(
                waits, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()  # only waits on a future: nothing of the reader is cut short
            for task in done:
                with contextlib.suppress(Exception):
                    task.result()  # a failed reader is resumed by the next round

    async def ack(self, message: Received) -> None:
        await self.parts[message.partition or 0].ack(message)

    async def seek(self, position: Pos) -> None:
        for partition in _parts(self.meta, position):
            await self.parts[partition].seek(position)

    async def close(self) -> None:
        self.closed = True
        for part in self.parts:
            await part.close()


class StreamGroupMember(PickingConsumer):
    """A stream-mode group member: partitioned or not, known once its group is declared."""

    native_requeue = True
    native_dead_letters = False

    def __init__(self, context: RabbitContext, options: ConsumerOptions, seats: PumpSeats):
        super().__init__()
        self.context = context
        self.options = options
        self.seats = seats

    async def start(self) -> None:
        with self.context.amqp.dropped(f"start a consumer of {self.options.topic!r}"):
            plan = await prepare_stream_group(self.context, self.options)
        inner: Any
        if plan.partitions:
            inner = PartitionedStreamGroup(self.context, self.options, plan, self.seats)
            start = inner.start()
        else:
            inner = StreamGroupConsumer(self.context, self.options, self.seats)
            start = inner.start(plan)
        inner.delivery = self.delivery
        with self.context.amqp.dropped(f"start a consumer of {self.options.topic!r}"):
            await self._started(inner, start)


class StreamBroadcast(PickingConsumer):
    """A stream-mode consumer without a group: one stream, or every partition's."""

    def __init__(self, context: RabbitContext, options: ConsumerOptions) -> None:
        super().__init__()
        self.context = context
        self.options = options

    async def start(self) -> None:
        with self.context.amqp.dropped(f"start a consumer of {self.options.topic!r}"):
            meta = await stream_topic(self.context, self.options.topic)
        inner: ConsumerDriver
        if meta.partitioned:
            inner = PartitionedStreamBroadcast(self.context, self.options, meta)
        else:
            inner = StreamBroadcastConsumer(self.context, self.options, meta=meta)
        inner.delivery = self.delivery
        await self._started(inner, inner.start())
