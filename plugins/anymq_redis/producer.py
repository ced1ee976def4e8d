"""The redis:// producer: XADD to the partition's stream, trimmed by the topic's retention."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from anymq.backend import Outgoing, ProducerDriver, ProducerOptions
from anymq.errors import ClosedError, ConfigError, TopicNotFound
from anymq.message import Receipt
from anymq.partitioners import make
from anymq_redis import streams as keys
from anymq_redis.errors import errors

if TYPE_CHECKING:
    from anymq_redis.driver import RedisBroker

VALUE, KEY, HEADER = b"v", b"k", b"h:"
"""Entry fields: the value, the key (when there is one) and one ``h:<name>`` per header."""


def fields(value: bytes, key: bytes | None, headers: dict[str, bytes] | None) -> dict[Any, Any]:
    out: dict[Any, Any] = {VALUE: value}
    if key is not None:
        out[KEY] = key
    for name, data in (headers or {}).items():
        out[HEADER + name.encode()] = data
    return out


class RedisProducer(ProducerDriver):
    """A send is confirmed once XADD answered (the server's appendfsync decides durability)."""

    def __init__(self, broker: RedisBroker, options: ProducerOptions) -> None:
        self.broker = broker
        self.pick = make(options.partitioner)
        self.topics: dict[str, keys.TopicMeta] = {}
        self.closed = False

    async def _meta(self, topic: str, fresh: bool = False) -> keys.TopicMeta:
        meta = None if fresh else self.topics.get(topic)
        if meta is None:
            meta = self.topics[topic] = await keys.load(self.broker.client, topic)
        return meta

    def _place(self, meta: keys.TopicMeta, message: Outgoing) -> int:
        if message.partition is None:
            return self.pick(message.key, meta.partitions)
        if not 0 <= message.partition < meta.partitions:
            raise ConfigError(
                f"partition {message.partition} does not exist: {meta.name!r} has "
                f"{meta.partitions} (0 to {meta.partitions - 1})"
            )
        return message.partition

    async def send(self, topic: str, message: Outgoing) -> Receipt:
        [receipt] = await self.send_batch(topic, [message])
        return receipt

    async def send_batch(self, topic: str, messages: Sequence[Outgoing]) -> list[Receipt]:
        """One MULTI/EXEC: the batch is stored whole. A stream that is gone (the topic was
        deleted, or re-created with other partitions) is looked up again once."""
        if self.closed:
            raise ClosedError("producer is closed")
        with errors(self.broker.where):
            meta = await self._meta(topic)
        for _attempt in (1, 2):
            placed = [self._place(meta, m) for m in messages]
            trim = meta.xadd_trim()
            with errors(self.broker.where, sending=True):
                async with self.broker.client.pipeline(transaction=True) as pipe:
                    for message, p in zip(messages, placed, strict=True):
                        entry = fields(message.value, message.key, message.headers)
                        pipe.xadd(keys.stream(topic, p), entry, nomkstream=True, **trim)
                    if meta.max_messages is not None:  # XADD trims one way: MINID here
                        meta.trim_age(pipe, sorted(set(placed)))
                    ids = (await pipe.execute())[: len(messages)]
            if all(i is not None for i in ids):
                return [
                    Receipt(topic, p, keys.offset_of(i), i.decode())
                    for p, i in zip(placed, ids, strict=True)
                ]
            with errors(self.broker.where):
                meta = await self._meta(topic, fresh=True)  # TopicNotFound if it is gone
        raise TopicNotFound(topic, keys.BACKEND, "its streams vanished while sending")

    async def close(self) -> None:
        self.closed = True
