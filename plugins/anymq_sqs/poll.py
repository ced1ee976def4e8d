"""The consumer's ReceiveMessage calls, kept alive when the caller is cancelled.

Cancelling the HTTP request of a long poll does not stop it at the server: it goes on for
the rest of its ``WaitTimeSeconds`` and hands out what arrives (and a response may already
be on its way). Those messages would stay invisible for the whole visibility timeout, and
on a FIFO queue hold back their message group. So a poll runs in a task of its own and is
never cancelled with the receive that started it (the cancel itself returns at once):

- the next receive picks up a poll that is still running instead of starting another;
- a poll that ends with nobody waiting gives its messages back at once (visibility 0);
- close waits for a running poll to end (at most its ``WaitTimeSeconds`` + a margin) and
  gives its messages back; every give-back is bounded, so a dead endpoint cannot hang it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("anymq.sqs")

MARGIN = 2.0
"""Seconds close waits for a running poll beyond its WaitTimeSeconds (HTTP, a busy server)."""


@dataclass(eq=False)
class Poll:
    """One ReceiveMessage in flight."""

    task: asyncio.Task[dict[str, Any]]
    wait: float
    """Its WaitTimeSeconds (0: a short poll)."""
    ends: float
    """Loop time by which the server answers (start + WaitTimeSeconds)."""
    waiters: int = 0
    taken: bool = field(default=False)


class Poller:
    """Owns the consumer's one ReceiveMessage in flight and the give-backs of unseen messages."""

    def __init__(
        self, release: Callable[[list[str]], Awaitable[None]], timeout: float, name: str
    ) -> None:
        self._release = release
        self.timeout = timeout
        """Seconds one give-back may take (a dead endpoint must not hang a cancel or close)."""
        self.name = name
        self.current: Poll | None = None
        self._giving_back: set[asyncio.Task[None]] = set()

    def start(self, call: Coroutine[Any, Any, dict[str, Any]], wait: float) -> Poll:
        loop = asyncio.get_running_loop()
        task = loop.create_task(call, name=f"anymq-sqs-poll {self.name}")
        poll = Poll(task, wait, loop.time() + wait)
        task.add_done_callback(lambda _: self._ended(poll))
        self.current = poll
        return poll

    async def wait(self, poll: Poll, timeout: float | None) -> bool:
        """Waits for ``poll`` (at most ``timeout`` s); True when it has ended. Cancelling the
        caller leaves the poll running."""
        poll.waiters += 1
        try:
            await asyncio.wait((poll.task,), timeout=timeout)
        except BaseException:
            poll.waiters -= 1
            if poll.task.done() and not poll.waiters:
                self._unseen(poll)  # ended just before the cancel reached the caller
            raise
        poll.waiters -= 1
        return poll.task.done()

    def take(self, poll: Poll) -> list[dict[str, Any]] | None:
        """The messages of an ended poll, once (None if someone else took them); raises the
        poll's error."""
        if poll.taken:
            return None
        poll.taken = True
        if self.current is poll:
            self.current = None
        if poll.task.cancelled():  # given up on at close: it handed nothing to us
            return []
        return list(poll.task.result().get("Messages") or [])

    def abandon(self, poll: Poll) -> None:
        """Stops a poll of a queue that was deleted: it can hand out nothing that matters,
        and close must not wait out its WaitTimeSeconds."""
        poll.taken = True
        if self.current is poll:
            self.current = None
        poll.task.cancel()

    def give_back(self, handles: list[str]) -> None:
        """Makes these messages visible again at once, in the background (close waits)."""
        if handles:
            task = asyncio.get_running_loop().create_task(self._give_back(handles))
            self._giving_back.add(task)
            task.add_done_callback(self._giving_back.discard)

    async def _give_back(self, handles: list[str]) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                await self._release(handles)
        except Exception as exc:  # the visibility timeout then applies
            log.warning(
                "anymq sqs: could not give back %d unseen message(s) of %s: %r",
                len(handles),
                self.name,
                exc,
            )

    def _ended(self, poll: Poll) -> None:
        if not poll.waiters:
            self._unseen(poll)

    def _unseen(self, poll: Poll) -> None:
        """Nobody will see this poll's messages: give them back."""
        try:
            raw = self.take(poll)
        except Exception as exc:  # a failed poll nobody waits for: nothing was handed out
            log.debug("anymq sqs: unattended poll of %s failed: %r", self.name, exc)
            return
        if raw:
            self.give_back([m["ReceiptHandle"] for m in raw])

    async def close(self) -> None:
        """Lets a running poll end (bounded), gives back what it got, waits for give-backs."""
        poll = self.current
        if poll is not None and not poll.task.done():
            loop = asyncio.get_running_loop()
            await asyncio.wait((poll.task,), timeout=max(0.0, poll.ends - loop.time()) + MARGIN)
            if not poll.task.done():  # a server that does not answer: give up on it
                poll.task.cancel()
                with contextlib.suppress(BaseException):
                    await poll.task
        if poll is not None and poll.task.done():
            self._unseen(poll)
        if self._giving_back:
            await asyncio.wait(set(self._giving_back), timeout=self.timeout + 1)
