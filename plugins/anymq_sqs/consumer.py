"""Receiving from a group's SQS queue: long polls, batched deletes, one heartbeat, dead letters.

- ``receive(n, timeout)`` long-polls for whole seconds and short-polls the rest, so short
  timeouts are honoured; a poll is never cancelled with its receive (a cancelled
  ReceiveMessage can leave its messages invisible for the whole visibility timeout): it runs
  on for the next receive, or its messages go back at once (see poll.py).
- ack → DeleteMessageBatch: acks are collected and sent 10 at a time, after ``ack_linger``
  seconds, before the next receive, and on close.
- nack → ChangeMessageVisibility to 0 (or the nack delay).
- one heartbeat task per consumer extends the visibility of every unsettled message, so a
  slow handler keeps its message; close gives every unsettled message back (visibility 0).
- after ``max_deliveries`` the message is published to the dead-letter topic with Spring's
  dead-letter headers and deleted; where that topic has a queue of the same type (anymq's
  own dead-letter topic) the group queue's redrive policy (maxReceiveCount =
  max_deliveries) catches what a crashed consumer never settled, else anymq.delivery does
  when such a message is received again.
- a long poll on a queue deleted meanwhile (another client deleted the topic) only ends
  after its WaitTimeSeconds, so a receive waiting in one asks whether the topic still
  exists every ``WATCH_EVERY`` seconds of waiting, and raises TopicNotFound when it is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from anymq.backend import ConsumerDriver, ConsumerOptions, Outgoing, ProducerOptions
from anymq.errors import TopicNotFound
from anymq.message import Received
from anymq_sqs import codec, naming
from anymq_sqs.admin import Source
from anymq_sqs.context import SqsContext
from anymq_sqs.errors import is_not_found, translate
from anymq_sqs.options import SqsOptions
from anymq_sqs.poll import Poll, Poller
from anymq_sqs.producer import SQSProducer

log = logging.getLogger("anymq.sqs")

BATCH = 10
MAX_VISIBILITY = 43_200
SHORT_POLL_INTERVAL = 0.05
RELEASE_TIMEOUT = 5.0
"""Least seconds a give-back (visibility 0) may take at close or after a cancel."""
WATCH_EVERY = 2.0
"""Seconds of waiting in a long poll between checks that the topic still exists."""
_SYSTEM = ["ApproximateReceiveCount", "SentTimestamp", "MessageGroupId"]


class SQSConsumer(ConsumerDriver):
    """A member of a group: reads the group's queue (or a temporary one without a group)."""

    def __init__(self, context: SqsContext, options: ConsumerOptions) -> None:
        settings = context.settings
        extra = SqsOptions.parse(options.extra, "consumer", defaults=context.options)
        self.context = context
        self.options = options
        self.visibility = extra.visibility_timeout
        wait = extra.wait_time
        self.wait_time = max(0, min(wait, int(settings.read_timeout) - 2))
        self.closed = False
        self.source: Source | None = None
        self._partitions = 1
        """The topic's partition count: a message's partition is its MessageGroupId."""
        self._url = ""
        self._dead_letters: SQSProducer | None = None
        """Publishes dead letters; made at the first one."""
        self._held: dict[str, float] = {}
        """Receipt handles delivered and not settled → when their visibility was last set."""
        self._acks: list[str] = []
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._gone = False
        """The topic was found deleted while waiting: every receive raises TopicNotFound."""
        # a give-back gets what start() gets (connect_timeout x max_attempts), at least 5 s
        bound = max(RELEASE_TIMEOUT, settings.connect_timeout * settings.max_attempts)
        self._poller = Poller(self._give_back, bound, options.topic)

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        opts = self.options
        context = self.context
        context.check(opts.topic)
        topology = context.topology
        source = await topology.source(opts.topic, opts.group, create=context.settings.auto_create)
        self.source = source
        self._url = source.url
        if source.kind is not None:
            self._partitions = source.kind.partitions
        try:
            if opts.dead_letter_topic is not None:
                context.check(opts.dead_letter_topic)
                fifo = source.kind is not None and source.kind.fifo
                arn = await topology.ensure_dead_letter(opts.dead_letter_topic, fifo=fifo)
                if opts.max_deliveries is not None and arn != source.arn:
                    # None clears one an earlier consumer set: this one's settings apply
                    await topology.set_redrive(source.url, arn, opts.max_deliveries)
        except BaseException:
            await topology.release(source)
            raise
        self._tasks = [
            asyncio.create_task(self._flusher(), name=f"anymq-sqs-acks {source.name}"),
            asyncio.create_task(self._heartbeat(), name=f"anymq-sqs-heartbeat {source.name}"),
        ]

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._wake.set()
        flusher, heartbeat = self._tasks or (None, None)
        if heartbeat is not None:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await heartbeat
        await self._poller.close()  # a running poll's messages go back too
        held, self._held = list(self._held), {}
        try:  # bounded: a dead endpoint must not hang close
            async with asyncio.timeout(self._poller.timeout):
                if flusher is not None:
                    await flusher  # it sends what is collected, then stops (closed)
                outcomes = await asyncio.gather(
                    self._flush_acks(), self._set_visibility(held, 0), return_exceptions=True
                )
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome
        except Exception as exc:  # the broker may be gone; the visibility timeout then applies
            log.warning("anymq sqs: could not settle or give back messages on close: %r", exc)
        if self.source is not None and self.source.temporary:
            try:
                await self.context.topology.release(self.source)
            except Exception as exc:
                log.warning(
                    "anymq sqs: could not delete temporary queue %s: %s", self.source.name, exc
                )

    # -- receiving -----------------------------------------------------------------------
    async def receive(self, max_messages: int, timeout: float | None) -> list[Received]:
        if self.closed:
            return []
        if self._gone:
            raise self._deleted()
        if self._acks:
            await self._flush_acks()
        sqs = self.context.topology.sqs
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        count = max(1, min(BATCH, max_messages))
        poller = self._poller
        while True:
            if self.closed:
                return []
            poll = poller.current  # still running for a receive that was cancelled or timed out
            if poll is None:
                if deadline is None:
                    wait = self.wait_time
                else:
                    remaining = deadline - loop.time()
                    wait = min(self.wait_time, int(remaining)) if remaining >= 1 else 0
                call = sqs.receive_message(
                    QueueUrl=self._url,
                    MaxNumberOfMessages=count,
                    WaitTimeSeconds=wait,
                    VisibilityTimeout=self.visibility,
                    MessageAttributeNames=["All"],
                    MessageSystemAttributeNames=_SYSTEM,
                )
                poll = poller.start(call, wait)
            # a poll of our own ends by our deadline; one picked up may run longer
            limit = None
            if deadline is not None and poll.ends > deadline:
                limit = max(0.0, deadline - loop.time())
            if not await self._wait(poll, limit):
                return []  # our timeout: the poll goes on (its messages are not lost)
            try:
                raw = poller.take(poll)
            except (ClientError, BotoCoreError) as exc:
                if self.closed:
                    return []
                raise self._fail(exc, "receiving") from exc
            if raw is None:  # another receive took them
                continue
            if raw and self.closed:  # closed while polling: give them back at once
                poller.give_back([m["ReceiptHandle"] for m in raw])
                return []
            if raw:
                poller.give_back([m["ReceiptHandle"] for m in raw[count:]])
                return self._wrap(raw[:count])
            if deadline is not None:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return []
                if poll.wait == 0:
                    await asyncio.sleep(min(SHORT_POLL_INTERVAL, remaining))

    async def _wait(self, poll: Poll, limit: float | None) -> bool:
        """``poller.wait``, checking every WATCH_EVERY s of waiting that the topic exists:
        a long poll on a deleted queue just waits out its WaitTimeSeconds."""
        poller = self._poller
        loop = asyncio.get_running_loop()
        end = None if limit is None else loop.time() + limit
        while True:
            step = WATCH_EVERY if end is None else min(WATCH_EVERY, end - loop.time())
            if await poller.wait(poll, max(0.0, step)):
                return True
            if self.closed or (end is not None and loop.time() >= end):
                return False
            if await self._topic_gone():
                self._gone = True
                poller.abandon(poll)  # the queue is gone: nothing it hands out can matter
                raise self._deleted()

    async def _topic_gone(self) -> bool:
        """True only when SNS (or SQS in queue mode) says the topic no longer exists; any
        other failure (a busy or unreachable endpoint) is left to the poll to report."""
        topology = self.context.topology
        try:
            if topology.queue_mode:
                await topology.sqs.get_queue_attributes(
                    QueueUrl=self._url, AttributeNames=["QueueArn"]
                )
                return False
            kind = self.source.kind if self.source is not None else None
            resource = kind.resource if kind is not None else self.options.topic
            return not await topology.resource_exists(resource)
        except ClientError as exc:
            return bool(is_not_found(exc))
        except Exception as exc:
            log.debug("anymq sqs: could not check topic %s: %r", self.options.topic, exc)
            return False

    def _deleted(self) -> TopicNotFound:
        return TopicNotFound(self.options.topic, "sqs", "it was deleted while consuming")

    def _wrap(self, raw: list[dict[str, Any]]) -> list[Received]:
        topic = self.options.topic
        held = self._held
        partitions = self._partitions
        now = time.monotonic()
        out: list[Received] = []
        for m in raw:
            value, key, headers = codec.decode(m["Body"], m.get("MessageAttributes"))
            attrs = m.get("Attributes") or {}
            sent = attrs.get("SentTimestamp")
            handle = m["ReceiptHandle"]
            held[handle] = now
            out.append(
                Received(
                    value,
                    key,
                    headers,
                    topic,
                    naming.partition_of(attrs.get("MessageGroupId"), partitions),
                    None,
                    int(sent) if sent else None,
                    int(attrs.get("ApproximateReceiveCount", 1)),
                    m.get("MessageId"),
                    handle,
                    self.delivery,
                )
            )
        return out

    # -- primitives for anymq.delivery -------------------------------------------------------
    native_requeue = True  # visibility 0, or the nack delay (whole seconds)
    native_delay = True
    # native_limit stays False: Delivery dead-letters what comes back unsettled past
    # max_deliveries. A redrive policy (maxReceiveCount = max_deliveries), set where the
    # dead-letter topic has a queue of the group queue's type, moves such a message before
    # any consumer sees it; without one (an ordinary dead-letter topic, or one of the other
    # kind) the consumer's count is what catches it.

    async def ack(self, message: Received) -> None:
        if self._held.pop(message.handle, None) is None:
            return
        acks = self._acks
        acks.append(message.handle)
        if len(acks) >= BATCH:
            await self._flush_acks()
        else:
            self._wake.set()

    def holds(self, message: Received) -> bool:
        return message.handle in self._held

    async def requeue(self, message: Received, delay: float | None) -> None:
        handle = message.handle
        seen = self._held.pop(handle)  # the heartbeat must not extend it any more
        try:
            await self._set_visibility([handle], 0 if not delay else math.ceil(delay))
        except BaseException:
            self._held[handle] = seen
            raise

    async def dead_letter(self, message: Received, topic: str, headers: dict[str, bytes]) -> None:
        """Published to the dead-letter topic like any message, so every group of it gets
        it (anymq's own dead-letter topic: its one queue). On a partitioned dead-letter
        topic it keeps its partition (modulo the count); else the key picks the group."""
        if self._dead_letters is None:
            self._dead_letters = SQSProducer(self.context, ProducerOptions())
        kind = await self.context.topology.kind(topic)
        partition = message.partition
        if partition is not None and kind.partitions > 1:
            partition %= kind.partitions  # as Spring Kafka's recoverer (and anymq on Kafka)
        else:
            partition = None
        out = Outgoing(message.body, message.key, headers, partition)
        await self._dead_letters.send(topic, out)

    async def _flush_acks(self) -> None:
        sqs = self.context.topology.sqs
        while self._acks:
            batch, self._acks = self._acks[:BATCH], self._acks[BATCH:]
            try:
                response = await sqs.delete_message_batch(
                    QueueUrl=self._url,
                    Entries=[{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(batch)],
                )
            except (ClientError, BotoCoreError) as exc:
                self._acks[:0] = batch  # keep them for the next flush
                raise self._fail(exc, "deleting acked messages") from exc
            for failed in response.get("Failed") or []:
                # an expired receipt handle: the message was redelivered (at-least-once)
                log.debug("anymq sqs: delete failed: %s", failed)

    async def _give_back(self, handles: list[str]) -> None:
        await self._set_visibility(handles, 0)

    async def _set_visibility(self, handles: list[str], seconds: int) -> None:
        sqs = self.context.topology.sqs

        async def one(chunk: list[str]) -> None:
            try:
                response = await sqs.change_message_visibility_batch(
                    QueueUrl=self._url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": seconds}
                        for i, h in enumerate(chunk)
                    ],
                )
            except (ClientError, BotoCoreError) as exc:
                raise self._fail(exc, "changing message visibility") from exc
            for failed in response.get("Failed") or []:
                log.debug("anymq sqs: visibility change failed: %s", failed)

        chunks = [handles[i : i + BATCH] for i in range(0, len(handles), BATCH)]
        if len(chunks) == 1:
            await one(chunks[0])
        elif chunks:
            await asyncio.gather(*(one(c) for c in chunks))

    # -- background ----------------------------------------------------------------------
    async def _flusher(self) -> None:
        """Sends collected acks shortly after the first one, so acks cost one call per 10."""
        linger = self.context.settings.ack_linger
        while not self.closed:
            await self._wake.wait()
            self._wake.clear()
            if linger and not self.closed:
                await asyncio.sleep(linger)
            try:
                await self._flush_acks()
            except Exception as exc:
                log.warning("anymq sqs: acks not deleted yet, retrying: %s", exc)
                await asyncio.sleep(1)
                self._wake.set()

    async def _heartbeat(self) -> None:
        """Keeps unsettled messages invisible while they are being processed."""
        period = max(self.visibility / 3, 0.2)
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            due = [h for h, seen in self._held.items() if now - seen >= period * 0.9]
            if not due:
                continue
            try:
                await self._set_visibility(due, self.visibility)
            except Exception as exc:
                log.warning("anymq sqs: could not extend visibility: %s", exc)
                continue
            held = self._held
            for h in due:
                if h in held:
                    held[h] = now

    def _fail(self, exc: BaseException, doing: str) -> Exception:
        return translate(
            exc,
            endpoint=self.context.settings.endpoint,
            topic=self.options.topic,
            doing=f"{doing} on {self.options.topic}",
        )
