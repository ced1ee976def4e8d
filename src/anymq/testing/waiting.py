"""Waiting for messages that may never come, and giving up as soon as that is known.

A backend that loses 1 message in 7 used to fail each test only when the delivery timeout
(30 s) ran out: 395 s for the suite. A loss is known much earlier:

- *proven*: where the backend keeps per-key order, a later message of the key arrived
  while the earlier one did not (the ledger's ``overtaken``); confirmed after a short pause
  (another member's report may be on its way);
- *presumed*: messages had been arriving and then nothing came for ``loss_grace`` seconds
  (default ten quiet periods, at least 3 s) while some are still missing.

Either ends the wait; the caller's ledger then fails naming the missing messages, and the
failure says which of these rules stopped the wait and after how long.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

POLL = 0.05


class Watch:
    """Tracks progress of one wait: when something last arrived, how long a proof held."""

    def __init__(self, grace: float, confirm: float) -> None:
        loop = asyncio.get_running_loop()
        self.loop = loop
        self.grace = grace
        self.confirm = confirm
        self.started = loop.time()
        self.last_arrival: float | None = None
        self.arrived = 0
        self.proof_since: float | None = None

    def seen(self, arrived: int) -> None:
        """``arrived`` messages have arrived so far."""
        if arrived > self.arrived:
            self.arrived = arrived
            self.last_arrival = self.loop.time()

    def verdict(self, proven: Sequence[object], idle_rule: bool = True) -> str | None:
        """Why to stop waiting now, or None to go on."""
        now = self.loop.time()
        if proven:
            if self.proof_since is None:
                self.proof_since = now
            if now - self.proof_since >= self.confirm:
                return (
                    f"stopped waiting {now - self.started:.1f}s in: a later message of the same "
                    "key arrived first, so per-key order says the earlier one is lost"
                )
        else:
            self.proof_since = None
        if idle_rule and self.last_arrival is not None and now - self.last_arrival >= self.grace:
            return (
                f"stopped waiting {now - self.started:.1f}s in: nothing more arrived for "
                f"{self.grace:g}s after message {self.arrived} (loss_grace)"
            )
        return None


async def until_delivered(
    work: Sequence[Awaitable[Any]],
    *,
    timeout: float,
    grace: float,
    confirm: float,
    arrived: Callable[[], int],
    proven: Callable[[], Sequence[object]],
    missing: Callable[[], str],
    idle_rule: Callable[[], bool] = lambda: True,
) -> None:
    """Run ``work`` (receive loops that end once everything arrived) to the end, or fail
    with ``missing()`` as soon as a loss is proven or presumed, or at ``timeout``."""
    tasks = [asyncio.ensure_future(w) for w in work]
    watch = Watch(grace, confirm)
    try:
        while True:
            done, pending = await asyncio.wait(tasks, timeout=POLL)
            for task in done:
                if task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            if not pending:
                return
            watch.seen(arrived())
            reason = watch.verdict(proven(), idle_rule())
            elapsed = watch.loop.time() - watch.started
            if reason is None and elapsed >= timeout:
                reason = f"gave up after the {timeout:g}s delivery timeout"
            if reason is not None:
                raise AssertionError(f"{missing()} ({reason})")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
