"""One handler at work: a fetch loop feeding per-key lanes, and ``concurrency`` workers.

Why workers and not a task per message: a worker awaits the handler directly, so a handler
that never suspends costs a function call, not a task (the runtime's overhead over a bare
``async for`` loop stays small), and there can never be more than ``concurrency`` handlers
in flight. The fetch loop stops asking the broker while ``buffer`` fetched messages wait,
so a slow handler holds back fetching instead of filling memory.

A message is acked only after its handler returned (and its result, with ``publish_to``,
was confirmed by the broker); what was fetched and not finished when the runner stops stays
unsettled and goes back to the group, so a stop or a crash never skips work.

A retry of a keyed message is held here, unsettled, for its backoff: its key's lane stays
blocked (the key's later messages wait, other keys go on) and no worker waits with it. Only
a keyless message, which has no order to keep, goes back to the broker with
``nack(delay=)`` where the backend declares ``Feature.NACK_DELAY`` (SQS waits natively).
Handing a keyed one back would break its order: on a FIFO queue the broker would not even
redeliver it while its key's later messages are held here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from anymq.client import Consumer, Producer
from anymq.errors import ClosedError
from anymq.features import Feature
from anymq.message import Message, Received
from anymq.runtime.handler import Handler
from anymq.runtime.lanes import Lanes
from anymq.runtime.payloads import raw_body
from anymq.runtime.settle import Outcome

log = logging.getLogger("anymq.runtime")


def _fqcn(error: BaseException) -> str:
    """The error's fully qualified class name, for the dead-letter headers."""
    cls = type(error)
    module = "" if cls.__module__ == "builtins" else cls.__module__ + "."
    return module + cls.__qualname__


class Runner:
    """Runs one :class:`Handler` on its consumer."""

    def __init__(
        self,
        handler: Handler,
        consumer: Consumer,
        producer: Producer | None,
        on_failure: Callable[[BaseException], None],
    ) -> None:
        self.handler = handler
        self.consumer = consumer
        self.producer = producer
        self.lanes = Lanes()
        self.in_flight = 0
        """Handlers running now (never above ``handler.concurrency``)."""
        self._on_failure = on_failure
        self._idle: deque[asyncio.Future[None]] = deque()
        """Workers waiting for a ready message, each on its own future (woken one by one)."""
        self._space: asyncio.Future[None] | None = None
        """Set while the fetch loop waits for the buffer to drain below half."""
        self._tasks: list[asyncio.Task[None]] = []
        self.trace = consumer.runtime_trace(handler.name)
        """Opens a message's process span (anymq.otel), or None: not traced, no cost."""
        self.draining = False
        """Set by :meth:`stop`: workers start nothing new, the fetch loop has ended."""
        self.retrying: dict[int, tuple[Received, asyncio.TimerHandle]] = {}
        """Keyed messages held for their backoff (by ``id``): unsettled, their key blocked."""
        self.last_error: str | None = None
        """The last handler exception (``fqcn: message``), for health checks."""
        self._nack_delay = Feature.NACK_DELAY in consumer.delivery.capabilities

    def start(self) -> None:
        """Start fetching and the workers (the consumer is already subscribed)."""
        name = self.handler.name
        tasks = [asyncio.create_task(self._fetch(), name=f"anymq-fetch {name}")]
        tasks += [
            asyncio.create_task(self._work(), name=f"anymq-worker {name} {i}")
            for i in range(self.handler.concurrency)
        ]
        for task in tasks:
            task.add_done_callback(self._ended)
        self._tasks = tasks

    def _ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and (error := task.exception()) is not None:
            self._on_failure(error)

    async def stop(self, drain_timeout: float = 0.0) -> None:
        """Stop fetching and starting handlers; wait up to ``drain_timeout`` seconds for the
        handlers in flight to finish and be settled, then cancel the rest. What was not
        finished (cancelled, waiting for a slot or for its retry) stays unsettled and is
        redelivered to the group when the consumer closes."""
        self.draining = True
        tasks, self._tasks = self._tasks, []
        retrying, self.retrying = self.retrying, {}
        for _, timer in retrying.values():
            timer.cancel()
        if not tasks:
            return
        fetch, workers = tasks[0], tasks[1:]
        fetch.cancel()
        idle, self._idle = self._idle, deque()
        for waiter in idle:  # idle workers see draining and end
            if not waiter.done():
                waiter.set_result(None)
        if drain_timeout > 0 and self.in_flight:
            await asyncio.wait(workers, timeout=drain_timeout)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # -- fetching ----------------------------------------------------------------------
    async def _fetch(self) -> None:
        lanes = self.lanes
        limit = self.handler.buffer
        receive = self.consumer.receive
        idle = self._idle
        loop = asyncio.get_running_loop()
        while True:
            space = limit - lanes.waiting
            if space <= 0:
                self._space = loop.create_future()
                await self._space
                continue
            lanes.extend(await receive(space, None))
            ready = len(lanes.ready)
            while ready and idle:
                waiter = idle.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    ready -= 1

    # -- handling ----------------------------------------------------------------------
    async def _work(self) -> None:
        """Take ready messages and handle them one at a time, until cancelled.

        Written as one loop with everything bound to locals: with a handler that does not
        suspend this loop *is* the per-message cost of the runtime (see the benchmark).
        """
        lanes = self.lanes
        ready = lanes.ready
        idle = self._idle
        low = self.handler.buffer // 2
        loop = asyncio.get_running_loop()
        handler = self.handler
        function = handler.function
        decode = handler.decode
        raw = decode is raw_body  # the body as it is: no call per message
        wants_message = handler.wants_message
        publish_to = handler.publish_to
        trace = self.trace
        while not self.draining:
            if not ready:
                waiter = loop.create_future()
                idle.append(waiter)
                await waiter
                continue
            message = ready.popleft()
            lanes.waiting -= 1
            if lanes.waiting <= low and (space := self._space) is not None and not space.done():
                space.set_result(None)
            self.in_flight += 1
            end_span = trace(message) if trace is not None else None
            held = False
            try:
                payload: Any
                try:
                    if raw:
                        payload = message.body
                    else:
                        payload = decode(message.body) if decode is not None else message
                except Exception as error:
                    await self._poison(message, error)
                    continue
                try:
                    if wants_message:
                        result = await function(payload, message)
                    else:
                        result = await function(payload)
                    if result is not None and publish_to is not None:
                        await self._publish(publish_to, result, message)
                except Exception as error:
                    held = await self._failed(message, error)
                    continue
                try:  # noqa: SIM105 - try is free on the per-message path, suppress() is not
                    await message.ack()
                except ClosedError:
                    pass  # stopping: it stays unsettled and is redelivered (at-least-once)
            finally:
                if end_span is not None:
                    end_span()
                self.in_flight -= 1
                if message.key is not None and not held:
                    lanes.done(message)

    async def _poison(self, message: Received, error: Exception) -> None:
        """A body that does not decode: never retried (it cannot succeed)."""
        reason = f"the payload does not decode for {self.handler.name}: {error}"
        outcome = self.handler.settle.on_poison(message, error)
        await self._settle(message, outcome, error, reason=reason)

    async def _failed(self, message: Received, error: Exception) -> bool:
        """Settle a message whose handler raised, per the handler's policy; True when it is
        held here for a retry (its key's lane stays blocked until the retry is handled)."""
        handler = self.handler
        fqcn = _fqcn(error)
        self.last_error = f"{fqcn}: {error}"
        log.warning(
            "handler %s failed on %r: %s: %s",
            handler.name,
            message,
            fqcn,
            error,
            exc_info=log.isEnabledFor(logging.DEBUG),
        )
        policy = handler.settle
        outcome = policy.on_error(message, error)
        if outcome is not Outcome.RETRY:
            await self._settle(message, outcome, error)
            return False
        delay = policy.retry_delay(message)
        if message.key is None and self._nack_delay:
            await self._settle(message, outcome, error, delay)
            return False
        timer = asyncio.get_running_loop().call_later(delay, self._due, message)
        self.retrying[id(message)] = (message, timer)
        return True

    def _due(self, message: Received) -> None:
        """A held retry's backoff is over: it is the next delivery, and starts before
        anything else that is ready (its key's later messages still wait behind it)."""
        if self.retrying.pop(id(message), None) is None or self.draining:
            return
        message.delivery_count += 1
        lanes = self.lanes
        lanes.ready.appendleft(message)
        lanes.waiting += 1
        idle = self._idle
        while idle:
            waiter = idle.popleft()
            if not waiter.done():
                waiter.set_result(None)
                break

    def _publish(self, topic: str, result: Any, message: Received) -> Any:
        """Send a handler's result on, keeping the incoming key (so per-key order carries
        over to the next topic) unless it returned a :class:`Message` saying otherwise."""
        producer = self.producer
        assert producer is not None
        encode = self.handler.encode
        if isinstance(result, Message):
            return producer.send(
                topic,
                encode(result.value),
                key=result.key if result.key is not None else message.key,
                headers=result.headers,
                partition=result.partition,
                routing_key=result.routing_key,
                delay=result.delay,
            )
        return producer.send(topic, encode(result), key=message.key)

    async def _settle(
        self,
        message: Received,
        outcome: Outcome,
        error: BaseException,
        delay: float = 0.0,
        reason: str | None = None,
    ) -> None:
        """Carry out a :class:`SettlePolicy` decision; a refused settle (the consumer is
        closing) leaves the message unsettled, so it is redelivered. A dead letter's
        ``kafka_dlt-exception-message`` is ``reason``, else the exception's message."""
        name = self.handler.name
        try:
            if outcome is Outcome.ACK:
                await message.ack()
            elif outcome is Outcome.RETRY:
                await message.nack(requeue=True, delay=delay or None)
            elif outcome is Outcome.DROP:
                log.warning("handler %s dropped %r (its on_error rule): %s", name, message, error)
                await message.ack()
            elif outcome is Outcome.REJECT:
                log.error("handler %s rejected %r: %s", name, message, error)
                await message.nack(requeue=False)
            else:
                if reason is None:
                    reason = str(error) or _fqcn(error)
                log.error("dead-lettering %r: %s", message, reason)
                await self.consumer.delivery.dead_letter(message, reason, _fqcn(error))
        except ClosedError:
            pass
