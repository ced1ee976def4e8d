"""Publishing to a topic's exchange with publisher confirms.

A send returns once RabbitMQ confirmed the message (it is in every queue it was routed
to, on disk for durable queues). The first send to a topic checks the exchange passively,
so a missing topic fails with TopicNotFound instead of closing the channel; if the
exchange disappears later, RabbitMQ's 404 is mapped the same way. A send that loses the
connection waits for the robust connection to come back and publishes again (within
``publish_timeout``): a message is confirmed or the send raises, never silently lost;
duplicates are possible after a reconnect (at-least-once).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import Sequence
from typing import Any

import aiormq
import aiormq.exceptions as amqp_errors
from aio_pika.abc import AbstractRobustChannel
from pamqp import commands as spec

from anymq.backend import Outgoing, ProducerDriver, ProducerOptions
from anymq.errors import (
    BrokerUnavailable,
    ClosedError,
    ConfigError,
    PublishError,
    TopicNotFound,
)
from anymq.message import Receipt
from anymq.partitioners import make as make_partitioner
from anymq_rabbitmq import headers as hdr
from anymq_rabbitmq import topology as topo
from anymq_rabbitmq.context import RabbitContext
from anymq_rabbitmq.declare import ensure_topic, topic_partitions
from anymq_rabbitmq.errors import (
    AUTH_ERRORS,
    CONNECTION_ERRORS,
    PROTOCOL_ERRORS,
    missing_exchange,
    publish_refused,
    refused,
    unconfirmed,
)
from anymq_rabbitmq.naming import Names
from anymq_rabbitmq.options import RabbitOptions
from anymq_rabbitmq.publish import ChannelGone, Item, publish_many
from anymq_rabbitmq.streams import OffsetTracker

#: Channel errors after which the same publish can simply be tried again.
_RETRY = (*CONNECTION_ERRORS, asyncio.CancelledError)


#: Seconds between publishes of a message its stream returned (stream still starting).
_STREAM_PAUSE = 0.1


class _Returned(Exception):
    """RabbitMQ returned a mandatory message: no queue took it (mapped in ``_failed``)."""

    def __init__(self, topic: str) -> None:
        super().__init__(f"message for topic {topic!r} returned")


class RabbitProducer(ProducerDriver):
    """One confirm-mode channel per producer."""

    def __init__(self, context: RabbitContext, options: ProducerOptions) -> None:
        settings = RabbitOptions.parse(options.extra, "producer", defaults=context.options)
        self.context = context
        self.url = context.url
        self.confirm = settings.confirm
        # In stream mode the topic's stream is always bound, so a returned message was not
        # stored: the stream is still starting after a restart, and the send publishes it
        # again within publish_timeout (_stream_starting).
        mandatory = settings.mandatory
        self.mandatory = context.stream_mode if mandatory is None else mandatory
        self.delivery_mode = 2 if settings.persistent else 1
        ttl = settings.ttl
        self.expiration = None if ttl is None else str(int(ttl * 1000))
        self.timeout = context.settings.publish_timeout
        self.stream_mode = context.stream_mode
        self.track = self.stream_mode and settings.offsets
        self.pick = make_partitioner(options.partitioner)
        self.channel: AbstractRobustChannel | None = None
        self.known: dict[str, int] = {}
        """Topics whose exchange was checked, with their partition count."""
        self._ids = map(f"{uuid.uuid4().hex[:16]}-{{}}".format, itertools.count())
        self.closed = False
        self._reopening = asyncio.Lock()

    async def start(self) -> None:
        self.channel = await self.context.amqp.robust_channel(confirms=self.confirm)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.channel is not None:
            with contextlib.suppress(Exception):
                await self.channel.close()

    async def _known(self, topic: str) -> None:
        """Check the topic's exchange passively (on an admin channel) unless known: a
        publish to a missing exchange would close the producer's channel instead."""
        if topic not in self.known:
            await ensure_topic(self.context, topic)
            self.known[topic] = await topic_partitions(self.context, topic)

    def _properties(self, message: Outgoing, ts: int) -> spec.Basic.Properties:
        return spec.Basic.Properties(
            headers=hdr.encode(message.headers, message.key, ts),
            delivery_mode=self.delivery_mode,
            message_id=next(self._ids),
            expiration=self.expiration,
        )

    async def _underlay(self) -> aiormq.abc.AbstractChannel:
        """The channel to publish on; reopened (one send at a time) after the server closed it.

        aio-pika reopens a robust channel after a channel-level close, but gives up for good
        when that reopen fails or the new channel is closed while it is being restored (a
        racing publish to a deleted exchange): then every later send would fail until
        ``publish_timeout``. ``restore()`` runs under aio-pika's own restore lock and does
        nothing when its reopen already succeeded.
        """
        if self.closed or self.channel is None:
            raise ClosedError("producer is closed")
        channel = self.channel
        if channel.is_closed:
            async with self._reopening:
                if channel.is_closed and not self.closed:
                    try:
                        await channel.restore()
                    except Exception as exc:  # closed again while reopening: send retries
                        raise ChannelGone(channel, None) from exc
        return await channel.get_underlay_channel()

    async def send(self, topic: str, message: Outgoing) -> Receipt:
        [receipt] = await self.send_batch(topic, [message])
        return receipt

    async def send_batch(self, topic: str, messages: Sequence[Outgoing]) -> list[Receipt]:
        await self._known(topic)
        partitions = self._partitions(topic, messages)
        exchanges: str | list[str] = topic
        if self.known[topic] > 1:
            exchanges = [Names.partition_exchange(topic, p) for p in partitions]
        ts = hdr.now_ms()
        pending: list[Item] = [
            (m.value, m.routing_key or topic, self._properties(m, ts)) for m in messages
        ]
        ids = [item[2].message_id or "" for item in pending]
        partitioned = self.known[topic] > 1
        # Stream mode: each partition's stream tells the offsets of its messages.
        trackers: dict[int, OffsetTracker] = {}
        if self.track:
            for partition in dict.fromkeys(partitions):
                found = await self.context.tracker(topic, partition if partitioned else None)
                if found is not None:
                    found.expect(
                        [i for i, p in zip(ids, partitions, strict=True) if p == partition]
                    )
                    trackers[partition] = found
        # A returned message means its stream is not running yet (see _stream_starting).
        stream = Names.stream(topic, partitions[0] if partitioned else None)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while True:
            try:
                async with asyncio.timeout(max(0.0, deadline - loop.time())):
                    await self._known(topic)  # again after a 404 on a concurrent send
                    channel = await self._underlay()
                    results = await publish_many(
                        channel, exchanges, pending, mandatory=self.mandatory
                    )
                for result in results:
                    self._check_result(topic, result)
                break
            except (Exception, asyncio.CancelledError) as exc:  # mapped or retried below
                # Resend the whole batch: confirmed ones may arrive twice (at-least-once).
                await self._failed(topic, exc, deadline, stream)
        offsets: list[int | None] = [None] * len(ids)
        for partition, tracker in trackers.items():
            mine = [n for n, p in enumerate(partitions) if p == partition]
            read = await tracker.offsets([ids[n] for n in mine], self.timeout)
            for n, offset in zip(mine, read, strict=True):
                offsets[n] = offset
        return [
            Receipt(topic, partition, offset, message_id)
            for message_id, offset, partition in zip(ids, offsets, partitions, strict=True)
        ]

    def _partitions(self, topic: str, messages: Sequence[Outgoing]) -> list[int]:
        """Each message's partition: the one asked for (checked against the topic before
        anything is sent), else the partitioner's (murmur2 of the key, like Kafka's)."""
        count = self.known[topic]
        out = []
        for m in messages:
            if m.partition is not None:
                if m.partition >= count:
                    raise ConfigError(
                        f"partition {m.partition} does not exist: topic {topic!r} has {count} "
                        f"partition{'s' if count > 1 else ''} (0 to {count - 1}); nothing "
                        "was sent"
                    )
                out.append(m.partition)
            else:
                out.append(self.pick(m.key, count) if count > 1 else 0)
        return out

    def _check_result(self, topic: str, result: Any) -> None:
        if not self.confirm or isinstance(result, spec.Basic.Ack):
            return
        if isinstance(result, spec.Basic.Nack):
            raise PublishError(f"RabbitMQ refused a message for topic {topic!r} (basic.nack)")
        if isinstance(result, aiormq.abc.DeliveredMessage):
            raise _Returned(topic)

    async def _stream_starting(
        self, topic: str, exc: BaseException, deadline: float, stream: str
    ) -> bool:
        """Whether a returned message should be published again: in stream mode the topic's
        stream takes every message, so a return means it was not running (right after a
        server restart RabbitMQ starts streams a moment after it accepts connections).
        True while the stream is starting or runs again; BrokerUnavailable once
        ``publish_timeout`` is spent; False (a real return) when it does not exist."""
        if not self.stream_mode:
            return False
        try:
            state = await topo.queue_state(self.context.amqp, stream)
        except Exception:  # lost the connection while checking: the send retries anyway
            state = "down"
        if state == "missing":
            return False
        if asyncio.get_running_loop().time() >= deadline:
            raise BrokerUnavailable(
                f"the stream of topic {topic!r} did not take messages within {self.timeout:g}s "
                "(RabbitMQ returned them: the stream is not running yet after a restart); "
                "nothing was stored",
                host=self.url.host,
                port=self.url.port,
            ) from exc
        await asyncio.sleep(_STREAM_PAUSE)
        return True

    async def _failed(self, topic: str, exc: BaseException, deadline: float, stream: str) -> None:
        """Map a failed publish, or return so the caller publishes again."""
        if isinstance(exc, ChannelGone) and exc.reason is not None:
            # Nothing of this publish was written: the channel was already closed, e.g.
            # by a 404 for this topic caused by a concurrent send.
            if _missing(exc.reason, topic):
                self.known.pop(topic, None)
                raise TopicNotFound(topic, "rabbitmq") from exc.reason
        elif isinstance(exc, amqp_errors.ChannelNotFoundEntity):
            if _missing(exc, topic) or "exchange '" not in str(exc):
                self.known.pop(topic, None)
                raise TopicNotFound(topic, "rabbitmq") from exc
            # A 404 for another topic closed the shared channel before this publish was
            # confirmed: the server dropped it (it discards publishes after channel.close
            # until close-ok), so publishing again on the reopened channel is safe.
            await asyncio.sleep(0.05)
            return
        if isinstance(exc, (amqp_errors.PublishError, _Returned)):
            if await self._stream_starting(topic, exc, deadline, stream):
                return  # nothing was stored: publish again once the stream runs
            raise PublishError(
                f"no queue is bound to topic {topic!r} for this routing key; the message was "
                "returned (mandatory=true)"
            ) from exc
        if isinstance(exc, (amqp_errors.DeliveryError, *PROTOCOL_ERRORS)):
            raise publish_refused(topic, exc) from exc
        if isinstance(exc, (PublishError, TopicNotFound, ClosedError, ConfigError)):
            raise exc
        if isinstance(exc, AUTH_ERRORS):
            raise refused(self.url, exc) from exc
        if self.closed:
            raise ClosedError("producer closed while sending") from exc
        if isinstance(exc, asyncio.CancelledError):
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise exc  # a real cancellation of the caller
        loop = asyncio.get_running_loop()
        if isinstance(exc, TimeoutError) or loop.time() >= deadline:
            raise unconfirmed(self.url, topic, self.timeout, exc) from exc
        if not isinstance(exc, _RETRY) and type(exc) is not amqp_errors.ChannelClosed:
            raise publish_refused(topic, exc) from exc
        await asyncio.sleep(0.05)  # the robust channel reconnects; publish again


def _missing(exc: BaseException, topic: str) -> bool:
    """A 404 for the topic's exchange or one of its partitions' (``<topic>/p<n>``)."""
    return missing_exchange(exc, topic) or (
        isinstance(exc, amqp_errors.ChannelNotFoundEntity) and f"exchange '{topic}/p" in str(exc)
    )
