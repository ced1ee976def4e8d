"""One JetStream pull consumer read on an inbox of its own.

Pull requests go out one at a time on this inbox, so every message the server delivered to
it is known here: what it buffered (``ready``) can be nak'd when the consumer closes or its
partition moves, instead of waiting out ``ack_wait``. nats-server 2.9 delivers to a pull
request's inbox even after an unsubscribe, so :meth:`settle_requests` waits for the open
request to end before anything is handed back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from anymq_nats.errors import mapped

PULL_SECONDS = 1.0
"""Longest a pull request waits on the server: a deleted topic is noticed by then at the
latest, and a close or a handover waits for the open request to end."""
LOST_END = 1.0
"""Seconds past a request's expiry after which its end is taken as lost on the way."""


class Puller:
    """Pulls from the consumer ``name`` of ``stream``; wakes ``arrived`` on every answer."""

    def __init__(self, stream: str, name: str, arrived: asyncio.Event, partition: int | None):
        self.name = name
        self.partition = partition
        self.next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{name}"
        self.arrived = arrived
        self.ready: deque[Msg] = deque()
        self.sub: Subscription | None = None
        self.open_until = 0.0
        """Loop time the outstanding pull request expires (0: none outstanding)."""
        self.wanted = 0
        self.gone = False
        """The server said this consumer no longer exists (stream or consumer deleted)."""
        self.released = False

    async def subscribe(self, nc: Client) -> None:
        self.sub = await nc.subscribe(nc.new_inbox(), cb=self._arrive)
        self.open_until, self.gone = 0.0, False

    async def _arrive(self, msg: Msg) -> None:
        if msg.reply and self.released:  # came after a handover (the request outlived it)
            await msg.nak()
            return
        if msg.reply:  # a message (status messages have no reply subject)
            self.ready.append(msg)
            self.wanted -= 1
            if self.wanted <= 0:
                self.open_until = 0.0
        else:
            status = (msg.headers or {}).get("Status", "")
            if status == "100":
                return  # idle heartbeat
            self.open_until = 0.0  # 404 no messages, 408 expired, 409 / 503: the request ended
            if status in ("409", "503") and "exceed" not in str(msg.headers).lower():
                self.gone = True  # consumer deleted, or nobody serves its requests
        self.arrived.set()

    async def pull(self, nc: Client, batch: int, now: float, remaining: float, where: str) -> None:
        """Ask for up to ``batch`` messages unless a request is open: one at a time, so the
        end of a request (its batch full, or the server's 408) says nothing more is coming."""
        if (self.open_until and now < self.open_until + LOST_END) or self.sub is None:
            return
        seconds = min(PULL_SECONDS, max(0.05, remaining))
        request = {"batch": batch, "expires": int(seconds * 1e9)}
        self.open_until, self.wanted = now + seconds, batch
        body = json.dumps(request).encode()
        try:
            await nc.publish(self.next_subject, body, reply=self.sub.subject)
        except Exception as exc:
            self.open_until = 0.0
            raise mapped(exc, where) from exc

    async def settle_requests(self) -> None:
        """Wait until the open pull request ended: the batch is full or the server said it
        expired (giving up a second after it should have)."""
        loop = asyncio.get_running_loop()
        while self.open_until and (left := self.open_until + LOST_END - loop.time()) > 0:
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), left)

    def hand_back(self) -> list[Msg]:
        """Stop reading: return what is buffered; anything arriving later is nak'd at once."""
        self.released = True
        out = list(self.ready)
        self.ready.clear()
        return out

    async def unsubscribe(self) -> None:
        sub, self.sub = self.sub, None
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
