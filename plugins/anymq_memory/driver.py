"""The memory backend's drivers: a faithful event broker inside one process.

It behaves like Kafka, not like a shortcut: messages get per-partition offsets and stay
after they are consumed, groups share partitions and keep durable positions, unsettled
messages are redelivered, and retention, replay and dead letters work. Everything runs on
the caller's event loop; no task is created per message.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Mapping, Sequence
from time import time_ns
from typing import Any

from anymq import partitioners
from anymq.backend import (
    BrokerDriver,
    ConsumerDriver,
    ConsumerOptions,
    Outgoing,
    ProducerDriver,
    ProducerOptions,
)
from anymq.errors import ClosedError, ConfigError, TopicNotFound
from anymq.features import Capabilities, Feature, HeaderRule, NameRule
from anymq.message import DONE, Receipt, Received
from anymq.model import GroupInfo, PartitionLag, Position, Retention, TopicInfo
from anymq.url import URL
from anymq_memory.group import GroupState, PartitionState
from anymq_memory.log import Partition, Space, Topic, now_ms, space
from anymq_memory.options import MemoryOptions

CAPABILITIES = Capabilities(
    backend="memory",
    features=frozenset(
        {
            Feature.CONSUMER_GROUPS,
            Feature.FAN_OUT,
            Feature.BROADCAST,
            Feature.DURABLE_GROUPS,
            Feature.RETAINS_CONSUMED,
            Feature.REPLAY,
            Feature.SEEK_TIME,
            Feature.PARTITIONS,
            Feature.ROUND_ROBIN,
            Feature.KEY_ORDERING,
            Feature.DEAD_LETTER,
            Feature.RETENTION_TIME,
            Feature.RETENTION_BYTES,
            Feature.RETENTION_MESSAGES,
            Feature.NACK_DELAY,
        }
    ),
    max_message_bytes=1_048_576,
    max_batch=100_000,
    max_partitions=1024,
    headers=HeaderRule(max_metadata_bytes=1_048_576),  # no limit besides the message's
    topic_names=NameRule(r"[A-Za-z0-9._-]{1,249}", "1 to 249 characters from A-Z a-z 0-9 . _ -"),
    in_process=True,
)

_new_tuple = tuple.__new__  # builds a Receipt without NamedTuple's Python-level __new__


class MemoryBroker(BrokerDriver):
    """``memory://`` (the process-wide default space) or ``memory://name``."""

    name = "memory"
    capabilities = CAPABILITIES
    declared = MemoryOptions

    def __init__(self, url: URL, options: Mapping[str, Any]) -> None:
        super().__init__(url, options)
        self.auto_create = MemoryOptions.parse(self.options).auto_create_topics
        self.space_name = url.host or "default"
        self.space: Space = space(self.space_name)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def topic(self, name: str) -> Topic:
        found = self.space.topics.get(name)
        if found is None:
            if not self.auto_create:
                raise TopicNotFound(name, self.name, "or connect with ?auto_create_topics=true")
            self._create(name, 1, Retention())
            found = self.space.topics[name]
        return found

    def _create(self, name: str, partitions: int, retention: Retention) -> bool:
        if name in self.space.topics:
            return False
        self.space.topics[name] = Topic(name, [Partition(i) for i in range(partitions)], retention)
        return True

    async def create_topic(
        self, name: str, *, partitions: int, retention: Retention, options: Mapping[str, Any]
    ) -> bool:
        MemoryOptions.parse(options, "topic")
        return self._create(name, partitions, retention)

    async def delete_topic(self, name: str) -> None:
        topic = self.space.topics.pop(name, None)
        if topic is None:
            raise TopicNotFound(name, self.name)
        topic.deleted = True
        topic.wake()

    async def describe_topic(self, name: str) -> TopicInfo:
        topic = self.space.topics.get(name)
        if topic is None:
            raise TopicNotFound(name, self.name)
        topic.enforce_retention()
        return TopicInfo(
            name=name,
            partitions=len(topic.partitions),
            retention=topic.retention,
            details={
                "space": self.space_name,
                "offsets": [(p.base, p.end) for p in topic.partitions],
                "messages": sum(len(p.records) for p in topic.partitions),
                "bytes": sum(p.bytes for p in topic.partitions),
                "groups": sorted(topic.groups),
            },
        )

    async def list_topics(self) -> list[str]:
        return list(self.space.topics)

    async def describe_group(self, topic: str, group: str) -> GroupInfo:
        found = self.space.topics.get(topic)
        if found is None:
            raise TopicNotFound(topic, self.name)
        found.enforce_retention()
        state = found.groups.get(group)
        lags: list[PartitionLag] = []
        for p in found.partitions:
            if state is None:
                lags.append(PartitionLag(p.index, None, p.end, 0))
                continue
            part = state.parts[p.index]
            part.skip_to(p.base)
            lags.append(PartitionLag(p.index, part.committed, p.end, p.end - part.committed))
        return GroupInfo(
            topic=topic,
            group=group,
            partitions=tuple(lags),
            members=len(state.members) if state else 0,
            in_flight=sum(len(p.inflight) for p in state.parts) if state else 0,
        )

    def producer(self, options: ProducerOptions) -> ProducerDriver:
        MemoryOptions.parse(options.extra, "producer")
        return MemoryProducer(self, options)

    def consumer(self, options: ConsumerOptions) -> ConsumerDriver:
        MemoryOptions.parse(options.extra, "consumer")
        return MemoryConsumer(self, options)


class MemoryProducer(ProducerDriver):
    """Appends to partitions; a send is confirmed as soon as it is in the log."""

    def __init__(self, broker: MemoryBroker, options: ProducerOptions) -> None:
        self.broker = broker
        self.pick = partitioners.make(options.partitioner)
        self.closed = False

    def _append(self, topic: Topic, message: Outgoing, ts: int) -> Receipt:
        partitions = topic.partitions
        index = message.partition
        if index is None:
            index = self.pick(message.key, len(partitions)) if len(partitions) > 1 else 0
        elif index >= len(partitions):
            raise ConfigError(
                f"partition {index} does not exist: topic {topic.name!r} has "
                f"{len(partitions)} partition(s)"
            )
        part = partitions[index]
        offset = part.base + len(part.records)
        part.records.append((offset, ts, message.key, message.value, message.headers, message.size))
        part.bytes += message.size
        return _new_tuple(Receipt, (topic.name, index, offset, None))

    def _topic(self, name: str) -> Topic:
        if self.closed:
            raise ClosedError("producer is closed")
        return self.broker.topic(name)

    async def send(self, topic: str, message: Outgoing) -> Receipt:
        found = self._topic(topic)
        receipt = self._append(found, message, now_ms())
        if found.trims:
            found.enforce_retention()
        if found.waiters:
            found.wake()
        return receipt

    async def send_value(self, topic: str, value: bytes, key: bytes | None, size: int) -> Receipt:
        """The single-message hot path: no Outgoing, no partitioner call on one partition."""
        found = self.broker.space.topics.get(topic)
        if found is None or self.closed:
            found = self._topic(topic)
        partitions = found.partitions
        index = 0 if len(partitions) == 1 else self.pick(key, len(partitions))
        part = partitions[index]
        offset = part.base + len(part.records)
        part.records.append((offset, time_ns() // 1_000_000, key, value, None, size))
        part.bytes += size
        if found.trims:
            found.enforce_retention()
        if found.waiters:
            found.wake()
        return _new_tuple(Receipt, (topic, index, offset, None))

    async def send_batch(self, topic: str, messages: Sequence[Outgoing]) -> list[Receipt]:
        found = self._topic(topic)
        for m in messages:  # check partitions first: a batch is all or nothing
            if m.partition is not None and m.partition >= len(found.partitions):
                raise ConfigError(
                    f"partition {m.partition} does not exist: topic {topic!r} has "
                    f"{len(found.partitions)} partition(s); nothing was sent"
                )
        ts = now_ms()
        receipts = [self._append(found, m, ts) for m in messages]
        found.enforce_retention()
        found.wake()
        return receipts

    async def close(self) -> None:
        self.closed = True


class MemoryConsumer(ConsumerDriver):
    """A member of a group (or a private cursor without one) reading the log."""

    def __init__(self, broker: MemoryBroker, options: ConsumerOptions) -> None:
        self.broker = broker
        self.options = options
        self.state: GroupState | None = None
        self.found: Topic | None = None
        self.closed = False
        self.rotate = 0

    def _start_offsets(self, topic: Topic, position: Position) -> list[int]:
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

    async def start(self) -> None:
        opts = self.options
        topic = self.broker.topic(opts.topic)
        self.found = topic
        if opts.dead_letter_topic is not None:
            self.broker._create(opts.dead_letter_topic, len(topic.partitions), Retention())
        if opts.group is None:
            state = GroupState(topic, None, self._start_offsets(topic, opts.start))
        else:
            state = topic.groups.get(opts.group)  # type: ignore[assignment]
            if state is None:
                state = GroupState(topic, opts.group, self._start_offsets(topic, opts.start))
                topic.groups[opts.group] = state
        self.state = state
        state.join(self)

    def _live(self) -> tuple[Topic, GroupState]:
        if self.closed or self.state is None or self.found is None:
            raise ClosedError("consumer is closed")
        if self.found.deleted:
            raise TopicNotFound(self.found.name, self.broker.name, "it was deleted while consuming")
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
        for i in range(n):
            index = assigned[(self.rotate + i) % n]
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
        pstate = self.state.parts[message.partition]  # type: ignore[union-attr, index]
        offset: int = message.offset  # type: ignore[assignment]
        if pstate.inflight.get(offset) is self:
            pstate.ack(offset)

    async def ack_many(self, messages: Sequence[Received]) -> None:
        for message in messages:  # one coroutine for the whole batch
            self.ack(message)

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
        target = self.broker.space.topics.get(topic)
        if target is None:
            raise TopicNotFound(topic, self.broker.name, "the dead-letter topic was deleted")
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
        offsets = self._start_offsets(topic, position)
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
