"""Publishing on one aiormq channel: never on a channel the server has closed.

``aiormq.Channel.basic_publish`` writes one message and then awaits its confirm, so a batch
sent through it needs a task per message to overlap the round trips. ``publish_many``
writes every frame of the batch under the channel's lock in one go, registering a confirm
future per message exactly as ``basic_publish`` does, then awaits the futures together.

It is also used for single sends because ``basic_publish`` does not check whether the
server already closed the channel (a 404 on a deleted exchange): a frame written after
aiormq answered channel.close-ok goes to a channel id the server has freed, which is a
connection-level CHANNEL_ERROR that closes the shared connection and every consumer channel
on it. Here the check and the write happen with no await in between; a closed channel
raises :class:`ChannelGone` carrying the server's reason.
It relies on aiormq 7.x internals; when they are missing it falls back to ``basic_publish``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from random import getrandbits
from typing import Any

import aiormq
from aiormq.abc import ChannelFrame
from pamqp import commands as spec
from pamqp.header import ContentHeader

Item = tuple[bytes, str, spec.Basic.Properties]

_INTERNALS = (
    "lock",
    "confirmations",
    "message_id_delivery_tag",
    "write_queue",
    "_split_body",
    "_close_exception",
    "_Channel__close_event",
)

#: Seconds between looks at a full connection write queue (the writer is busy).
_FULL_PAUSE = 0.001


class ChannelGone(aiormq.exceptions.ChannelInvalidStateError):
    """The channel was closed (by the server or by us) before this publish was written:
    nothing was sent. ``reason`` is the server's channel.close (e.g. a 404), if any."""

    def __init__(self, channel: Any, reason: BaseException | None) -> None:
        super().__init__(f"{channel!r} closed before publishing ({reason!r})")
        self.reason = reason


def _fast_path(channel: Any) -> bool:
    return all(hasattr(channel, name) for name in _INTERNALS)


def _check_open(ch: Any) -> None:
    """Raise ChannelGone if the channel is closed or closing (channel.close seen/sent)."""
    reason = ch._close_exception
    if ch.is_closed or reason is not None or ch._Channel__close_event.is_set():
        raise ChannelGone(ch, reason)


async def publish_many(
    channel: aiormq.abc.AbstractChannel,
    exchange: str | Sequence[str],
    items: Sequence[Item],
    *,
    mandatory: bool,
) -> list[Any]:
    """Publish ``items`` in order; return each confirm (Basic.Ack, or raise on Nack/Return).

    ``exchange`` is one exchange for all, or one per item (partitions of a topic)."""
    if not items:
        return []
    exchanges = [exchange] * len(items) if isinstance(exchange, str) else list(exchange)
    if not _fast_path(channel):
        return list(
            await asyncio.gather(
                *(
                    channel.basic_publish(
                        body,
                        exchange=target,
                        routing_key=key,
                        properties=props,
                        mandatory=mandatory,
                    )
                    for target, (body, key, props) in zip(exchanges, items, strict=True)
                )
            )
        )
    ch: Any = channel
    confirms = bool(getattr(ch, "publisher_confirms", False))
    futures: list[asyncio.Future[Any]] = []
    frames: list[Any] = []
    async with ch.lock:
        # Wait for room first: from the check below to the write there is no await, so
        # nothing is registered or written once the server's channel.close was read.
        while ch.write_queue.full():
            _check_open(ch)
            await asyncio.sleep(_FULL_PAUSE)
        _check_open(ch)
        for target, (body, key, props) in zip(exchanges, items, strict=True):
            if not props.message_id:
                props.message_id = f"{getrandbits(128):032x}"
            if confirms:
                ch.delivery_tag += 1
                tag = ch.delivery_tag
                future = ch.create_future()
                ch.confirmations[tag] = future
                ch.message_id_delivery_tag[props.message_id] = tag
                future.add_done_callback(_forget(ch, props.message_id, tag))
                futures.append(future)
            frames.append(spec.Basic.Publish(exchange=target, routing_key=key, mandatory=mandatory))
            frames.append(ContentHeader(properties=props, body_size=len(body)))
            frames.extend(ch._split_body(body))
        drain: asyncio.Future[Any] = ch.create_future()
        ch.write_queue.put_nowait(
            ChannelFrame.marshall(frames=frames, channel_number=ch.number, drain_future=drain)
        )
        await drain
    if not confirms:
        return [None] * len(items)
    return list(await asyncio.gather(*futures))


def _forget(ch: Any, message_id: str, tag: int) -> Any:
    def done(_: asyncio.Future[Any]) -> None:
        if ch.message_id_delivery_tag.get(message_id) == tag:
            ch.message_id_delivery_tag.pop(message_id, None)

    return done
