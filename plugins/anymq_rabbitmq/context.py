"""What the producers, consumers and admin calls of one rabbitmq broker share.

The bottom of the plugin's import graph above the AMQP helpers: settings, the connections,
the topology registry and the per-topic offset trackers. The driver builds one and hands it
to every producer and consumer, which never see the driver itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from anymq.url import URL
from anymq_rabbitmq import topology as topo
from anymq_rabbitmq.connection import Amqp
from anymq_rabbitmq.naming import Names
from anymq_rabbitmq.options import RabbitOptions
from anymq_rabbitmq.registry import Registry
from anymq_rabbitmq.streams import OffsetTracker


class RabbitContext:
    """Settings, connections (stream readers get their own), registry and caches."""

    def __init__(self, url: URL, options: Mapping[str, Any]) -> None:
        self.url = url
        self.options = options
        """The connect-time options: the defaults of producer and consumer options."""
        self.settings = RabbitOptions.parse(options)
        self.stream_mode = self.settings.mode == "stream"
        self.amqp = Amqp(url, self.settings)
        # Stream readers get a connection of their own (see streams.py).
        self.stream_amqp = Amqp(url, self.settings) if self.stream_mode else self.amqp
        self.registry = Registry(self.amqp)
        self.trackers: dict[tuple[str, int | None], OffsetTracker | None] = {}
        """By (topic, partition): a partitioned topic has a stream per partition."""

    async def start(self) -> None:
        await self.amqp.start()
        if self.stream_amqp is not self.amqp:
            try:
                await self.stream_amqp.start()
            except BaseException:
                await self.amqp.close()
                raise

    async def close(self) -> None:
        trackers, self.trackers = self.trackers, {}
        for tracker in trackers.values():
            if tracker is not None:
                await tracker.close()
        if self.stream_amqp is not self.amqp:
            await self.stream_amqp.close()
        await self.amqp.close()

    async def tracker(self, topic: str, partition: int | None = None) -> OffsetTracker | None:
        """The offset tracker of a stream-mode topic (None when it has no stream).

        Right after a server restart a stream can refuse readers for a moment (404, lost
        channel). The send then goes ahead without an offset in its receipt (the message
        is still confirmed) and the next send attaches again; only a topic whose stream
        does not exist is remembered as having none.
        """
        key = (topic, partition)
        found = self.trackers.get(key)
        if found is not None and not found.closed:
            try:
                await found.ensure()
            except Exception:
                return None
            return found
        if found is None and key in self.trackers:
            return None
        stream = Names.stream(topic, partition)
        tracker = OffsetTracker(self.stream_amqp, stream)
        try:
            await tracker.ensure()
        except Exception:
            await tracker.close()
            if await self._has_no_stream(stream):
                self.trackers[key] = None
            else:
                self.trackers.pop(key, None)
            return None
        self.trackers[key] = tracker
        return tracker

    async def drop_tracker(self, topic: str) -> None:
        """Forget (and stop) a topic's trackers: the topic is being deleted."""
        for key in [key for key in self.trackers if key[0] == topic]:
            tracker = self.trackers.pop(key, None)
            if tracker is not None:
                await tracker.close()

    async def _has_no_stream(self, stream: str) -> bool:
        """True only when RabbitMQ says the stream does not exist."""
        try:
            return await topo.queue_counts(self.stream_amqp, stream) is None
        except Exception:
            return False
