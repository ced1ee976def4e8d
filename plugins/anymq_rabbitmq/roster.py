"""Who is in a partitioned group right now, so that its members can split the partitions.

AMQP cannot list a queue's consumers, so members announce themselves: each binds a private
exclusive queue to the group's fanout exchange ``<topic>/<group>/roster`` and publishes a
heartbeat there every third of ``member_timeout``; a member not heard from for
``member_timeout`` seconds is gone. A joining member says hello and every member answers at
once, a closing member says goodbye: joins and clean leaves move partitions within a round
trip, only a crashed member is noticed after the timeout (its dropped connection has already
freed its queues, the SIGKILL case).

Member ids start with the time they joined, so the sorted roster lists members in join order
and :func:`owner` (contiguous ranges) moves few partitions when a member joins: the new,
last member takes its share from the end. While two members' views differ for a moment both
may subscribe to one partition; the queue's single active consumer lets only one read it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable

import aiormq
import aiormq.exceptions as amqp_errors
from aiormq.abc import DeliveredMessage

from anymq_rabbitmq.connection import Amqp

HELLO, BEAT, BYE = b"hello", b"beat", b"bye"


def owner(partition: int, partitions: int, members: int) -> int:
    """Which member (index into the sorted roster) owns ``partition``: contiguous ranges
    whose sizes differ by at most one."""
    return partition * members // partitions


class Roster:
    """This member's view of its group; ``on_change`` runs when the live set changes."""

    def __init__(
        self, amqp: Amqp, exchange: str, timeout: float, on_change: Callable[[], None]
    ) -> None:
        self.amqp = amqp
        self.exchange = exchange
        self.timeout = timeout
        self.interval = timeout / 3
        self.on_change = on_change
        self.me = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        self.seen: dict[str, float] = {}
        """Other members and when this member last heard from them (monotonic)."""
        self.channel: aiormq.abc.AbstractChannel | None = None
        self.gone = False
        """The roster exchange was deleted (the topic with it): nothing is re-created."""
        self.closed = False
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._replies: set[asyncio.Task[None]] = set()

    def members(self) -> list[str]:
        """The live members, this one included, in join order."""
        return sorted([self.me, *self.seen])

    async def start(self) -> None:
        await self._open(create=True)
        self._task = asyncio.create_task(self._beat())

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._stop.set()  # the beat ends after its current step (see PartitionedConsumer)
        task = self._task
        if task is not None and not task.done():
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(task), 10.0)
            if not task.done():
                task.cancel()
        channel, self.channel = self.channel, None
        if channel is not None and not channel.is_closed:
            with contextlib.suppress(Exception):
                await self._say(BYE, channel)
                await channel.close()

    async def _open(self, *, create: bool) -> None:
        """Declare (or, after a reconnect, find) the exchange, bind a private queue, say hello."""
        channel = await self.amqp.raw_channel()
        try:
            await channel.exchange_declare(
                self.exchange, exchange_type="fanout", durable=True, passive=not create
            )
            ok = await channel.queue_declare("", exclusive=True, auto_delete=True)
            assert ok.queue is not None
            await channel.queue_bind(ok.queue, self.exchange)
            await channel.basic_consume(ok.queue, self._on_message, no_ack=True)
        except BaseException:
            with contextlib.suppress(Exception):
                await channel.close()
            raise
        self.channel = channel
        await self._say(HELLO, channel)

    async def _say(self, what: bytes, channel: aiormq.abc.AbstractChannel) -> None:
        await channel.basic_publish(what + b" " + self.me.encode(), exchange=self.exchange)

    async def _beat(self) -> None:
        while not self.closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval)
            if self.closed:
                return
            try:
                channel = self.channel
                if channel is None or channel.is_closed:
                    if not self.gone:
                        await self._open(create=False)  # after a reconnect
                else:
                    await self._say(BEAT, channel)
            except amqp_errors.ChannelNotFoundEntity:
                self.gone = True
            except Exception:  # reconnecting: the next beat tries again
                pass
            self._prune()

    def _prune(self) -> None:
        now = time.monotonic()
        expired = [m for m, t in self.seen.items() if now - t > self.timeout]
        for member in expired:
            del self.seen[member]
        if expired:
            self.on_change()

    async def _on_message(self, message: DeliveredMessage) -> None:
        what, _, member = bytes(message.body).partition(b" ")
        sender = member.decode(errors="replace")
        if sender == self.me or self.closed:
            return
        if what == BYE:
            if self.seen.pop(sender, None) is not None:
                self.on_change()
            return
        new = sender not in self.seen
        self.seen[sender] = time.monotonic()
        if what == HELLO and self.channel is not None:
            reply = asyncio.create_task(self._say(BEAT, self.channel))  # let it learn us now
            self._replies.add(reply)
            reply.add_done_callback(self._replied)
        if new:
            self.on_change()

    def _replied(self, task: asyncio.Task[None]) -> None:
        self._replies.discard(task)
        if not task.cancelled():
            task.exception()  # a lost channel: the next beat reaches it anyway
