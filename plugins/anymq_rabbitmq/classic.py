"""A classic-mode consumer: which driver reads depends on the topic, known only at start.

``start`` declares the group's queues (declare.py's one entry point) and learns from the
registry whether the topic is partitioned: a group on a partitioned topic is read by a
:class:`~anymq_rabbitmq.partitioned.PartitionedConsumer` (one queue per partition, spread
over the members), everything else by a :class:`~anymq_rabbitmq.consumer.QueueConsumer`.
This class only forwards to the one it picked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence

from anymq.backend import ConsumerDriver, ConsumerOptions
from anymq.errors import ClosedError
from anymq.message import Received
from anymq_rabbitmq.consumer import QueueConsumer
from anymq_rabbitmq.context import RabbitContext
from anymq_rabbitmq.declare import prepare_queue
from anymq_rabbitmq.partitioned import PartitionedConsumer


class ClassicConsumer(ConsumerDriver):
    """Picks and then forwards to the consumer the topic needs."""

    native_requeue = True
    native_dead_letters = True

    def __init__(self, context: RabbitContext, options: ConsumerOptions) -> None:
        self.context = context
        self.options = options
        self.inner: QueueConsumer | PartitionedConsumer | None = None
        self.closed = False

    def _driver(self) -> ConsumerDriver:
        if self.inner is None:
            raise ClosedError("consumer is not started")
        return self.inner

    async def start(self) -> None:
        with self.context.amqp.dropped(f"start a consumer of {self.options.topic!r}"):
            plan = await prepare_queue(self.context, self.options)
        inner: QueueConsumer | PartitionedConsumer
        if plan.partitions:
            inner = PartitionedConsumer(self.context, self.options, plan)
        else:
            inner = QueueConsumer(self.context, self.options, plan)
        inner.delivery = self.delivery
        with self.context.amqp.dropped(f"start a consumer of {self.options.topic!r}"):
            await inner.start()
        self.inner = inner
        if self.closed:
            await inner.close()

    async def receive(self, max_messages: int, timeout: float | None) -> list[Received]:
        return await self._driver().receive(max_messages, timeout)

    # ack and requeue return the picked driver's awaitable: no extra coroutine per message.
    def ack(self, message: Received) -> Awaitable[None] | None:
        return self._driver().ack(message)

    async def ack_many(self, messages: Sequence[Received]) -> None:
        await self._driver().ack_many(messages)

    def requeue(self, message: Received, delay: float | None) -> Awaitable[None]:
        return self._driver().requeue(message, delay)

    async def reject(self, message: Received) -> None:
        await self._driver().reject(message)

    def holds(self, message: Received) -> bool:
        return self._driver().holds(message)

    async def close(self) -> None:
        self.closed = True
        if self.inner is not None:
            await self.inner.close()
