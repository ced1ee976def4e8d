"""The redis:// consumer: a group member reading the partitions it leases (XREADGROUP), or,
without a group, a reader of every partition from where it started (XREAD).

A group member hands out, in this order: what it buffered, what must come again (nacked
here, or left unacked by a member that closed or died: XCLAIMed to this member, its
delivery count from the pending entries list), then new entries. Partitions move between
members only between two reads (:mod:`anymq_redis.members`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any

from redis import exceptions as rx

from anymq.backend import ConsumerDriver, ConsumerOptions
from anymq.errors import ClosedError, TopicNotFound
from anymq.message import DONE, Received
from anymq.model import Position, Retention
from anymq_redis import streams as keys
from anymq_redis.driver import create_group
from anymq_redis.errors import errors
from anymq_redis.members import Membership
from anymq_redis.options import RedisOptions
from anymq_redis.producer import HEADER, KEY, VALUE, fields

if TYPE_CHECKING:
    from anymq_redis.driver import RedisBroker

PAGE = 1000


class Part:
    """A partition this member holds the lease of; a new object per acquisition, so a
    message handed out under an older lease is recognisably no longer held."""

    __slots__ = ("index", "redeliver", "stream")

    def __init__(self, topic: str, index: int) -> None:
        self.index = index
        self.stream = keys.stream(topic, index)
        self.redeliver: set[bytes] = set()
        """Ids in this member's pending list to hand out again (XCLAIM), earliest first."""


class RedisConsumer(ConsumerDriver):
    native_requeue = True  # nacked ids are XCLAIMed again (delivery count + 1) before new ones

    def __init__(self, broker: RedisBroker, options: ConsumerOptions) -> None:
        self.broker = broker
        self.client = broker.client
        self.options = options
        self.topic = options.topic
        self.group = options.group
        self.timeout = RedisOptions.parse(options.extra).member_timeout
        self.meta: keys.TopicMeta | None = None
        self.members: Membership | None = None
        self.parts: dict[int, Part] = {}
        self.by_stream: dict[bytes, int] = {}
        self.last: dict[Any, Any] = {}
        """Without a group: the last id read on each stream."""
        self.buffer: deque[Received] = deque()
        self.lock = asyncio.Lock()
        self.heart: asyncio.Task[None] | None = None
        self.next_tick = 0.0
        self.next_sweep = 0.0
        self.recover = False
        """A fetch failed: what this member's pending list holds is queued again."""
        self.closed = False

    # -- joining -------------------------------------------------------------------------
    async def start(self) -> None:
        opts = self.options
        with errors(self.broker.where):
            meta = self.meta = await keys.load(self.client, self.topic)
            self.by_stream = {s.encode(): p for p, s in enumerate(meta.streams)}
            if opts.dead_letter_topic is not None:
                await self.broker.create_topic(
                    opts.dead_letter_topic,
                    partitions=meta.partitions,
                    retention=Retention(),
                    options={},
                )
            if self.group is None:
                await self._set_positions(opts.start, range(meta.partitions))
                return
            await create_group(self.client, meta, self.group, opts.start)
            self.members = Membership(
                self.client, self.topic, self.group, meta.partitions, self.timeout
            )
            await self._join()
        self.heart = asyncio.create_task(self._heartbeat())

    async def _join(self) -> None:
        """Join the roster and wait (up to member_timeout, until a dead owner's lease ran
        out) for this member's share: the others hand partitions over between two reads."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout + 1.0
        while True:
            if set(self.parts) == await self._rebalance() or loop.time() >= deadline:
                return
            await asyncio.sleep(0.05)

    async def _set_positions(self, position: Position, partitions: Sequence[int]) -> None:
        """Without a group: where reading goes on (``$`` resolved now, so what is sent after
        start() returns is read)."""
        assert self.meta is not None
        for p in partitions:
            name = self.meta.streams[p]
            at = keys.position_id(position, p)
            if at == "$":
                at = (await self.client.xinfo_stream(name))["last-generated-id"]
            self.last[name] = at.encode() if isinstance(at, str) else at

    async def _heartbeat(self) -> None:
        """Keep the roster entry and the leases alive, and move partitions, between reads."""
        while not self.closed:
            await asyncio.sleep(min(self.timeout / 3, keys.BLOCK))
            with contextlib.suppress(rx.RedisError):  # the next receive reports it
                async with self.lock:
                    if not self.closed:
                        await self._rebalance()

    def _drop(self, partition: int) -> None:
        part = self.parts.pop(partition, None)
        if part is not None and self.buffer:
            self.buffer = deque(m for m in self.buffer if m.handle[0] is not part)

    async def _tick(self) -> None:
        """Between two reads: check the topic, apply time retention, and claim what
        members that died mid-read left idle (their partitions moved on without it)."""
        meta, loop = self.meta, asyncio.get_running_loop()
        assert meta is not None
        if not await self.client.exists(keys.registry(self.topic)):
            raise TopicNotFound(self.topic, keys.BACKEND, "it was deleted while consuming")
        if meta.max_age_ms is not None:
            async with self.client.pipeline(transaction=False) as pipe:
                meta.trim_age(pipe)
                await pipe.execute()
        self.next_tick = loop.time() + keys.BLOCK
        if self.members is not None and loop.time() >= self.next_sweep:
            self.next_sweep = loop.time() + self.timeout
            for part in list(self.parts.values()):
                await self._sweep(part, int(self.timeout * 1000), everyone=False)

    async def _rebalance(self) -> set[int]:
        """Release what is no longer this member's, take what is (claiming what its last
        owner left unacked), extend the rest; return this member's target partitions."""
        members = self.members
        assert members is not None
        target = await members.target()
        lost = [p for p in self.parts if p not in target]
        for p in lost:
            self._drop(p)
        await members.release(lost)
        for p in await members.keep(list(self.parts)):
            self._drop(p)  # its lease ran out and another member took it
        for p in sorted(target - set(self.parts)):
            if await members.acquire(p):
                part = self.parts[p] = Part(self.topic, p)
                await self._sweep(part, 0, everyone=True)  # what its last owner left
        return target

    async def _sweep(self, part: Part, idle_ms: int, *, everyone: bool) -> None:
        """Queue the pending entries of ``part`` idle for ``idle_ms`` for redelivery here."""
        assert self.group is not None
        assert self.members is not None
        start: bytes | str = "-"
        while True:
            rows = await self.client.xpending_range(
                part.stream, self.group, start, "+", PAGE, idle=idle_ms or None
            )
            me = self.members.me.encode()
            part.redeliver.update(r["message_id"] for r in rows if everyone or r["consumer"] != me)
            if len(rows) < PAGE:
                return
            start = b"(" + rows[-1]["message_id"]

    # -- receiving -----------------------------------------------------------------------
    async def receive(self, max_messages: int, timeout: float | None) -> list[Received]:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            if self.closed:
                raise ClosedError("consumer is closed")
            if not self.buffer:
                wait = keys.BLOCK if deadline is None else min(keys.BLOCK, deadline - loop.time())
                async with self.lock:
                    if self.closed:
                        raise ClosedError("consumer is closed")
                    with errors(self.broker.where):
                        try:
                            self.buffer.extend(await self._fetch(max_messages, wait))
                        except rx.RedisError:
                            # the server may have applied a read (or a claim) whose answer
                            # was lost: those entries sit in this member's pending list
                            self.recover = True
                            raise
            if self.buffer:
                return [self.buffer.popleft() for _ in range(min(max_messages, len(self.buffer)))]
            if deadline is not None and loop.time() >= deadline:
                return []

    async def _fetch(self, limit: int, wait: float) -> list[Received]:
        if asyncio.get_running_loop().time() >= self.next_tick:
            await self._tick()
        if self.group is None:
            return await self._read(limit, wait)
        if self.recover:  # hand out again all that is pending here, duplicates included
            for part in list(self.parts.values()):
                await self._sweep(part, 0, everyone=True)
            self.recover = False
        out = await self._redeliveries(limit)
        if out:
            return out
        if not self.parts:  # others hold every partition of the group for now
            await asyncio.sleep(max(wait, 0))
            return []
        parts = {part.stream: part for part in self.parts.values()}
        block = int(wait * 1000)
        try:
            found = await self.client.xreadgroup(
                self.group,
                self.members.me,  # type: ignore[union-attr]
                dict.fromkeys(parts, ">"),
                count=limit,
                block=block if block > 0 else None,
            )
        except rx.ResponseError as exc:
            gone = "NOGROUP" in str(exc) or "no longer exists" in str(exc)
            if gone and not await self.client.exists(keys.registry(self.topic)):
                raise TopicNotFound(
                    self.topic, keys.BACKEND, "it was deleted while consuming"
                ) from exc
            raise
        for name, entries in found or ():
            part = parts[name.decode()]
            if self.parts.get(part.index) is part:  # else the next owner claims them
                out += [self._received(part.index, i, data, 1, (part, i)) for i, data in entries]
        return out

    async def _read(self, limit: int, wait: float) -> list[Received]:
        """Without a group: XREAD from the last ids (nothing to ack)."""
        block = int(wait * 1000)
        found = await self.client.xread(self.last, count=limit, block=block if block > 0 else None)
        out = []
        for name, entries in found or ():
            p = self.by_stream[name]
            self.last[name.decode()] = entries[-1][0]
            out += [self._received(p, i, data, 1, None) for i, data in entries]
        return out

    async def _redeliveries(self, limit: int) -> list[Received]:
        """XCLAIM what must come again, earliest first; counts from the pending list."""
        assert self.group is not None
        assert self.members is not None
        out: list[Received] = []
        for part in list(self.parts.values()):
            if not part.redeliver or len(out) >= limit:
                continue
            ids = sorted(part.redeliver, key=keys.parse_id)[: limit - len(out)]
            part.redeliver.difference_update(ids)
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.xclaim(part.stream, self.group, self.members.me, 0, list[Any](ids))
                for i in ids:
                    pipe.xpending_range(part.stream, self.group, i, i, 1)
                claimed, *pending = await pipe.execute()
            counts = {rows[0]["message_id"]: rows[0]["times_delivered"] for rows in pending if rows}
            if self.parts.get(part.index) is not part:
                continue
            out += [
                self._received(part.index, i, data, counts.get(i, 1), (part, i))
                for i, data in claimed
                if i is not None  # trimmed meanwhile: gone from the pending list too
            ]
        return out

    def _received(
        self, p: int, entry: bytes, data: dict[bytes, bytes], count: int, handle: Any
    ) -> Received:
        headers = [(k[len(HEADER) :].decode(), v) for k, v in data.items() if k.startswith(HEADER)]
        return Received(
            data.get(VALUE, b""),
            data.get(KEY),
            headers,
            self.topic,
            p,
            keys.offset_of(entry),
            keys.parse_id(entry)[0],
            count,
            entry.decode(),
            handle,
            self.delivery,
        )

    # -- primitives for anymq.delivery ---------------------------------------------------
    def ack(self, message: Received) -> Awaitable[None] | None:
        if self.group is None:
            return None
        return self.ack_many([message])

    async def ack_many(self, messages: Sequence[Received]) -> None:
        if self.group is None:
            return
        by_stream: dict[str, list[bytes]] = {}
        for message in messages:
            part, entry = message.handle
            by_stream.setdefault(part.stream, []).append(entry)
        with errors(self.broker.where):
            async with self.client.pipeline(transaction=False) as pipe:
                for name, ids in by_stream.items():
                    pipe.xack(name, self.group, *ids)
                await pipe.execute()

    def holds(self, message: Received) -> bool:
        if self.group is None:
            return not self.closed
        part = message.handle[0]
        return self.parts.get(part.index) is part

    def requeue(self, message: Received, delay: float | None) -> Awaitable[None]:
        if self.group is None:  # nothing to claim: hand the same message out again
            again = self.again(message)
            if again is not None:
                self.buffer.appendleft(again)
        elif self.holds(message):
            message.handle[0].redeliver.add(message.handle[1])
        return DONE

    async def dead_letter(self, message: Received, topic: str, headers: dict[str, bytes]) -> None:
        with errors(self.broker.where, sending=True):
            meta = await keys.load(self.client, topic)
            name = keys.stream(topic, (message.partition or 0) % meta.partitions)
            entry = fields(message.body, message.key, headers)
            if await self.client.xadd(name, entry, nomkstream=True, **meta.xadd_trim()) is None:
                raise TopicNotFound(topic, keys.BACKEND, "the dead-letter topic was deleted")

    async def seek(self, position: Position) -> None:
        async with self.lock:
            with errors(self.broker.where):
                if self.group is None:
                    assert self.meta is not None
                    await self._set_positions(position, range(self.meta.partitions))
                    self.buffer.clear()
                    return
                for p, part in list(self.parts.items()):
                    if position.partition in (None, p):
                        at = keys.position_id(position, p)
                        await self.client.xgroup_setid(part.stream, self.group, at)
                        part.redeliver.clear()
                        self.buffer = deque(m for m in self.buffer if m.handle[0] is not part)

    async def close(self) -> None:
        """Leave: release the leases so the next owner claims what this member left
        unacked at once (its pending entries stay in the group until then)."""
        if self.closed:
            return
        self.closed = True
        if self.heart is not None:
            self.heart.cancel()
        if self.members is None:
            return
        async with self.lock:  # a read in flight ends first (BLOCK at most)
            with contextlib.suppress(rx.RedisError):
                await self.members.leave(list(self.parts))
            self.parts.clear()
            self.buffer.clear()
