"""The nats:// producer: a send is confirmed once JetStream acked it (stored in the stream)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from anymq import partitioners
from anymq.backend import Outgoing, ProducerDriver, ProducerOptions
from anymq.errors import ClosedError, ConfigError
from anymq.message import Receipt
from anymq_nats import codec
from anymq_nats.errors import mapped
from anymq_nats.options import NatsOptions

if TYPE_CHECKING:
    from anymq_nats.driver import NatsBroker


class Publisher:
    """Publishes prepared messages to a topic's partition subjects (shared by the producer
    and a consumer's dead letters); remembers each topic's partition count."""

    def __init__(self, broker: NatsBroker, partitioner: str, timeout: float) -> None:
        self.broker = broker
        self.pick = partitioners.make(partitioner)
        self.timeout = timeout
        self.counts: dict[str, int] = {}

    async def partitions(self, topic: str) -> int:
        count = self.counts.get(topic)
        if count is None:
            info = await self.broker.stream(topic)
            count = self.counts[topic] = len(info.config.subjects or ()) or 1
        return count

    def place(self, topic: str, count: int, message: Outgoing) -> int:
        index = message.partition
        if index is None:
            return self.pick(message.key, count) if count > 1 else 0
        if index >= count:
            raise ConfigError(
                f"partition {index} does not exist: topic {topic!r} has {count} partition(s); "
                "nothing was sent"
            )
        return index

    async def publish(self, topic: str, messages: Sequence[Outgoing]) -> list[Receipt]:
        """All partitions are checked before the first message goes out."""
        count = await self.partitions(topic)
        places = [self.place(topic, count, m) for m in messages]
        js = self.broker.js
        try:
            if len(messages) == 1:  # one request: no future, gather or timer of a batch
                [message], [index] = messages, places
                headers = codec.encode_headers(message.key, message.headers)
                ack = await js.publish(
                    f"{topic}.{index}", message.value, timeout=self.timeout, headers=headers
                )
                return [Receipt(topic, index, ack.seq, None)]
            futures: list[asyncio.Future[Any]] = []
            for message, index in zip(messages, places, strict=True):
                headers = codec.encode_headers(message.key, message.headers)
                futures.append(
                    await js.publish_async(f"{topic}.{index}", message.value, headers=headers)
                )
            acks = await asyncio.wait_for(asyncio.gather(*futures), self.timeout)
        except Exception as exc:
            self.counts.pop(topic, None)  # deleted or recreated: look again next time
            raise mapped(exc, self.broker.address, topic=topic, sending=True) from exc
        return [
            Receipt(topic, index, ack.seq, None) for index, ack in zip(places, acks, strict=True)
        ]


class NatsProducer(ProducerDriver):
    def __init__(self, broker: NatsBroker, options: ProducerOptions) -> None:
        settings = NatsOptions.parse(options.extra, "producer", defaults=broker.options)
        self.publisher = Publisher(broker, options.partitioner, settings.publish_timeout)
        self.closed = False

    async def send(self, topic: str, message: Outgoing) -> Receipt:
        [receipt] = await self.send_batch(topic, [message])
        return receipt

    async def send_batch(self, topic: str, messages: Sequence[Outgoing]) -> list[Receipt]:
        if self.closed:
            raise ClosedError("producer is closed")
        return await self.publisher.publish(topic, messages)

    async def close(self) -> None:
        self.closed = True
