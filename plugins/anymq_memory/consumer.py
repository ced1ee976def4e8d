"""The memory backend's consumer: a group member (or a private cursor) reading the log."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Sequence
from typing import Any

from anymq.backend import ConsumerDriver, ConsumerOptions
from anymq.errors import ClosedError, TopicNotFound
from anymq.message import DONE, Received
from anymq.model import Position, Retention
from anymq_memory.context import MemoryContext
from anymq_memory.group import GroupState, PartitionState
from anymq_memory.log import Topic, now_ms


def start_offsets(topic: Topic, position: Position) -> list[int]:
    """Each partition's offset at ``position`` (retention applied first)."""
    topic.enforce_retention()
    out = []
    for p in topic.partitions:
        if position.kind == "earliest":
            out.append(p.base)
        elif position.kind == "offset" and (
            position.partition is None or position.partition == p.index
        ):
            out.append(min(max(position.offset or 0, p.base), p.end))
        elif position.kind == "timestamp":
            out.append(p.offset_for_time(position.timestamp_ms or 0))
        else:
            out.append(p.end)
    return out


def ensure_group(topic: Topic, name: str, start: Position) -> tuple[GroupState, bool]:
    """The group's state, recorded at ``start`` if it is new (True) or as it is (False).

    The one place a group comes to exist: a consumer's start and ``create_group`` both."""
    state = topic.groups.get(name)
    if state is not None:
        return state, False
    state = topic.groups[name] = GroupState(name, start_offsets(topic, start), topic.wake)
    return state, True


class MemoryConsumer(ConsumerDriver):
    """A member of a group (or a private cursor without one) reading the log."""

    def __init__(self, context: MemoryContext, options: ConsumerOptions) -> None:
        self.context = context
        self.options = options
        self.state: GroupState | None = None
        self.found: Topic | None = None
        self.closed = False
        self.rotate = 0

    async def start(self) -> None:
        opts = self.options
        topic = self.context.topic(opts.topic)
        self.found = topic
        if opts.dead_letter_topic is not None:
            self.context.create(opts.dead_letter_topic, len(topic.partitions), Retention())
        if opts.group is None:
            state = GroupState(None, start_offsets(topic, opts.start), topic.wake)
        else:
            state, _ = ensure_group(topic, opts.group, opts.start)
        self.state = state
        state.join(self)

    def partitions_held(self) -> tuple[int, ...] | None:
        if self.closed or self.state is None:
            return None
        return tuple(sorted(self.state.assigned(self)))

    def _live(self) -> tuple[Topic, GroupState]:
        if self.closed or self.state is None or self.found is None:
            raise ClosedError("consumer is closed")
        if self.found.deleted:
            raise TopicNotFound(
                self.found.name, self.context.backend, "it was deleted while consuming"
            )
        return self.found, self.state

    def _collect(self, limit: int) -> list[Received]:
        topic, state = self._live()
        topic.enforce_retention()
        assigned = state.assigned(self)
        if not assigned:
            return []
        out: list[Received] = []
        name = topic.name
        n = len(assigned)
        self.rotate = (self.rotate + 1) % n
        handover = state.handover
        for i in range(n):
            index = assigned[(self.rotate + i) % n]
            if handover and state.busy(index, self):
                continue  # its previous owner still works on it
            part = topic.partitions[index]
            pstate = state.parts[index]
            if pstate.fetch < part.base or pstate.committed < part.base:
                pstate.skip_to(part.base)
            redeliver = pstate.redeliver
            while redeliver and len(out) < limit:
                offset = redeliver.popleft()
                if offset in pstate.acked or offset < pstate.committed:
                    continue
                record = part.get(offset)
                if record is not None:
                    out.append(self._deliver(name, index, pstate, record))
            fetch = pstate.fetch
            end = part.base + len(part.records)
            if fetch < end and len(out) < limit:
                stop = min(end, fetch + limit - len(out))
                base = part.base
                counts = pstate.counts
                inflight = pstate.inflight
                delivery = self.delivery
                append = out.append
                # First deliveries, inlined: this loop is the consume hot path.
                for record in part.records[fetch - base : stop - base]:
                    offset = record[0]
                    counts[offset] = 1
                    inflight[offset] = self
                    headers = record[4]
                    append(
                        Received(
                            record[3],
                            record[2],
                            dict(headers) if headers else (),
                            name,
                            index,
                            offset,
                            record[1],
                            1,
                            None,
                            None,
                            delivery,
                        )
                    )
                pstate.fetch = stop
            if len(out) >= limit:
                break
        return out

    def _deliver(self, topic: str, index: int, pstate: PartitionState, record: Any) -> Received:
        offset = record[0]
        counts = pstate.counts
        count = counts.get(offset, 0) + 1
        counts[offset] = count
        pstate.inflight[offset] = self
        headers = record[4]
        return Received(
            record[3],
            record[2],
            dict(headers) if headers else (),
            topic,
            index,
            offset,
            record[1],
            count,
            None,
            None,
            self.delivery,
        )

    async def receive(self, max_messages: int, timeout: float | None) -> list[Received]:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            if self.closed:
                return []
            out = self._collect(max_messages)
            if out:
                return out
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return []
            topic = self.found
            assert topic is not None
            fut: asyncio.Future[None] = loop.create_future()
            topic.waiters.append(fut)
            try:
                await asyncio.wait_for(fut, remaining)
            except TimeoutError:
                return []
            finally:
                if not fut.done():
                    fut.cancel()
                with contextlib.suppress(ValueError):
                    topic.waiters.remove(fut)

    def _part(self, message: Received) -> PartitionState | None:
        """The message's partition state while this consumer holds the message."""
        if self.state is None:
            return None
        pstate = self.state.parts[message.partition or 0]
        if pstate.inflight.get(message.offset or 0) is not self:
            return None
        return pstate

    # -- primitives for anymq.delivery -----------------------------------------------------
    native_requeue = True  # the group's redelivery queue; delays wait in Delivery

    def ack(self, message: Received) -> None:
        """Synchronous: advancing a position needs no I/O, so no coroutine per message."""
        state = self.state
        pstate = state.parts[message.partition]  # type: ignore[union-attr, index]
        offset: int = message.offset  # type: ignore[assignment]
        if pstate.inflight.get(offset) is self:
            pstate.ack(offset)
            if state.handover:  # type: ignore[union-attr]
                self._handed_over()

    async def ack_many(self, messages: Sequence[Received]) -> None:
        state = self.state
        parts = state.parts  # type: ignore[union-attr]
        for message in messages:  # one coroutine for the whole batch, ack() inlined
            pstate = parts[message.partition]  # type: ignore[index]
            offset: int = message.offset  # type: ignore[assignment]
            if pstate.inflight.get(offset) is self:
                pstate.ack(offset)
        if state.handover:  # type: ignore[union-attr]
            self._handed_over()

    def _handed_over(self) -> None:
        """A settle may end a handover: wake the new owner waiting for the partition."""
        if self.found is not None:
            self.found.wake()

    def holds(self, message: Received) -> bool:
        return self._part(message) is not None

    def requeue(self, message: Received, delay: float | None) -> Awaitable[None]:
        pstate = self._part(message)
        if pstate is not None:
            offset = message.offset or 0
            del pstate.inflight[offset]
            pstate.redeliver.append(offset)  # behind earlier ones: key order holds
            if self.found is not None:
                self.found.wake()
        return DONE

    async def dead_letter(self, message: Received, topic: str, headers: dict[str, bytes]) -> None:
        target = self.context.space.topics.get(topic)
        if target is None:
            raise TopicNotFound(topic, self.context.backend, "the dead-letter topic was deleted")
        index = (message.partition or 0) % len(target.partitions)
        part = target.partitions[index]
        size = (
            len(message.body)
            + len(message.key or b"")
            + sum(len(k) + len(v) for k, v in headers.items())
        )
        part.records.append((part.end, now_ms(), message.key, message.body, headers, size))
        part.bytes += size
        target.wake()

    async def seek(self, position: Position) -> None:
        topic, state = self._live()
        offsets = start_offsets(topic, position)
        for index in state.assigned(self):
            if position.partition is None or position.partition == index:
                state.parts[index].reset(offsets[index])
        topic.wake()

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.state is not None:
            self.state.leave(self)
        if self.found is not None:
            self.found.wake()
