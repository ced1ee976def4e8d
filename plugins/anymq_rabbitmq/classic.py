"""A classic-mode consumer: which driver reads depends on the topic, known only at start.

``start`` declares the group's queues (declare.py's one entry point) and learns from the
registry whether the topic is partitioned: a group on a partitioned topic is read by a
:class:`~anymq_rabbitmq.partitioned.PartitionedConsumer` (one queue per partition, spread
over the members), everything else by a :class:`~anymq_rabbitmq.consumer.QueueConsumer`.
"""

from __future__ import annotations

from anymq.backend import ConsumerOptions
from anymq_rabbitmq.consumer import QueueConsumer
from anymq_rabbitmq.context import RabbitContext
from anymq_rabbitmq.declare import prepare_queue
from anymq_rabbitmq.partitioned import PartitionedConsumer
from anymq_rabbitmq.picking import PickingConsumer


class ClassicConsumer(PickingConsumer):
    """Picks the consumer the topic needs, then forwards to it."""

    native_requeue = True
    native_dead_letters = False  # dead letters are the consumer's (consumer.py)

    def __init__(self, context: RabbitContext, options: ConsumerOptions) -> None:
        super().__init__()
        self.context = context
        self.options = options

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
            await self._started(inner, inner.start())
