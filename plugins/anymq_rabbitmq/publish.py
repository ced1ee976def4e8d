"""Publishing a batch on one aiormq channel without a task per message.

``aiormq.Channel.basic_publish`` writes one message and then awaits its confirm, so a batch
sent through it needs a task per message to overlap the round trips. ``publish_many``
writes every frame of the batch under the channel's lock in one go, registering a confirm
future per message exactly as ``basic_publish`` does, then awaits the futures together.
It relies on aiormq 7.x internals; when they are missing it falls back to ``basic_publish``
calls gathered concurrently.
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

_INTERNALS = ("lock", "confirmations", "message_id_delivery_tag", "write_queue", "_split_body")


def _fast_path(channel: Any) -> bool:
    return all(hasattr(channel, name) for name in _INTERNALS) and bool(
        getattr(channel, "publisher_confirms", False)
    )


async def publish_many(
    channel: aiormq.abc.AbstractChannel,
    exchange: str,
    items: Sequence[Item],
    *,
    mandatory: bool,
) -> list[Any]:
    """Publish ``items`` in order; return each confirm (Basic.Ack, or raise on Nack/Return)."""
    if not items:
        return []
    if not _fast_path(channel):
        return list(
            await asyncio.gather(
                *(
                    channel.basic_publish(
                        body,
                        exchange=exchange,
                        routing_key=key,
                        properties=props,
                        mandatory=mandatory,
                    )
                    for body, key, props in items
                )
            )
        )
    ch: Any = channel
    futures: list[asyncio.Future[Any]] = []
    frames: list[Any] = []
    async with ch.lock:
        if ch.is_closed:
            raise aiormq.exceptions.ChannelInvalidStateError(f"{ch!r} closed")
        for body, key, props in items:
            if not props.message_id:
                props.message_id = f"{getrandbits(128):032x}"
            ch.delivery_tag += 1
            tag = ch.delivery_tag
            future = ch.create_future()
            ch.confirmations[tag] = future
            ch.message_id_delivery_tag[props.message_id] = tag
            future.add_done_callback(_forget(ch, props.message_id, tag))
            futures.append(future)
            frames.append(
                spec.Basic.Publish(exchange=exchange, routing_key=key, mandatory=mandatory)
            )
            frames.append(ContentHeader(properties=props, body_size=len(body)))
            frames.extend(ch._split_body(body))
        drain: asyncio.Future[Any] = ch.create_future()
        await ch.write_queue.put(
            ChannelFrame.marshall(frames=frames, channel_number=ch.number, drain_future=drain)
        )
        await drain
    return list(await asyncio.gather(*futures))


def _forget(ch: Any, message_id: str, tag: int) -> Any:
    def done(_: asyncio.Future[Any]) -> None:
        if ch.message_id_delivery_tag.get(message_id) == tag:
            ch.message_id_delivery_tag.pop(message_id, None)

    return done
