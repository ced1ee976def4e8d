"""AMQP channel numbers handed out in turn, and close-oks that are never dropped.

Two aiormq behaviours close the whole connection (RabbitMQ: 504 "second 'channel.open'
seen"), and with it every consumer channel of the Broker, when the server closes channels
(each 404 of a passive check or of a publish to a deleted exchange does):

- aiormq frees a channel's number as soon as the server's Channel.Close arrives, before
  its Close-Ok is queued, and picks "highest open number + 1" for the next channel: a
  channel opened in that gap writes Channel.Open ahead of the Close-Ok.
- aiormq queues that Close-Ok with ``put_nowait`` on its 10-frame write queue and drops
  it when the queue is full (a burst of concurrent steps or publishes): RabbitMQ then
  holds the number as closing for the life of the connection.

So anymq picks the numbers itself, cycling through ``channel_max`` (a freed number comes
back last), and lifts the write queue's bound on each new connection.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

import aiormq.abc

from anymq.errors import BrokerUnavailable

#: The highest channel number AMQP 0-9-1 can carry.
_AMQP_MAX = 65535


class ChannelNumbers:
    """The next free channel number of a connection, in turn (1, 2, … channel_max, 1, …)."""

    def __init__(self) -> None:
        self._last = 0
        self._kept: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()

    def next(self, connection: aiormq.abc.AbstractConnection) -> int:
        tune = getattr(connection, "connection_tune", None)
        limit = min(getattr(tune, "channel_max", 0) or _AMQP_MAX, _AMQP_MAX)
        for _ in range(limit):
            self._last = self._last % limit + 1
            number = self._last
            if number not in connection.channels and not self._held(number):
                return number
        raise BrokerUnavailable(
            f"all {limit} AMQP channels of the connection are open (the server's channel_max)"
        )

    def keep(self, number: int, channel: Any) -> None:
        """Reserve ``number`` for a robust channel: aio-pika reopens it under that number."""
        self._kept[number] = channel

    def _held(self, number: int) -> bool:
        channel = self._kept.get(number)
        # aio-pika sets _close_called when its owner closes it (not on a server close).
        return channel is not None and not getattr(channel, "_close_called", False)


def unbounded_writes(connection: aiormq.abc.AbstractConnection) -> None:
    """Let aiormq's write queue take every frame, so no Close-Ok is dropped (module doc).

    Its bound gives no backpressure anyway: the writer hands frames to the transport
    without waiting for it to drain.
    """
    queue = getattr(connection, "write_queue", None)
    if isinstance(queue, asyncio.Queue) and hasattr(queue, "_maxsize"):
        queue._maxsize = 0
