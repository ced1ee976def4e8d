"""Remember everything a run creates on a broker and undo it, also after Ctrl-C or a crash.

Workloads register an undo step (delete this topic, this queue) right before they create
the thing, run it themselves when they finish, and the runner calls :meth:`Tracker.cleanup`
in a ``finally`` block for whatever is still registered.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

Undo = Callable[[], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class Created:
    token: int
    what: str


class Tracker:
    """Undo steps for what this run created, newest first."""

    def __init__(self, prefix: str = "anymq-compare", *, timeout: float = 15.0) -> None:
        self.run_id = uuid.uuid4().hex[:8]
        self.prefix = f"{prefix}-{self.run_id}"
        self.timeout = timeout
        self._undo: dict[int, tuple[str, Undo]] = {}
        self._tokens = itertools.count(1)
        self.failures: list[str] = []
        """What could not be removed (shown in the report so nothing is silently left)."""
        self.created: list[str] = []
        """Everything registered, in order (the report lists it, tests check it is gone)."""

    def name(self, label: str) -> str:
        """A unique broker-safe name with the run's prefix: anymq-compare-<run>-<label>-<random>."""
        return f"{self.prefix}-{label}-{uuid.uuid4().hex[:6]}"

    def add(self, what: str, undo: Undo, *, record: bool = True) -> Created:
        """Register how to remove something before creating it (``record``: list it)."""
        item = Created(next(self._tokens), what)
        self._undo[item.token] = (what, undo)
        if record:
            self.created.append(what)
        return item

    @property
    def pending(self) -> list[str]:
        return [what for what, _ in self._undo.values()]

    async def undo(self, item: Created) -> None:
        """Remove one thing now (the normal end of a workload); failures are recorded."""
        entry = self._undo.pop(item.token, None)
        if entry is not None:
            await self._run(*entry)

    async def cleanup(self) -> list[str]:
        """Remove everything still registered, newest first; return what failed."""
        while self._undo:
            token = max(self._undo)
            what, undo = self._undo.pop(token)
            await self._run(what, undo)
        return self.failures

    async def _run(self, what: str, undo: Undo) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                await undo()
        except Exception as exc:  # cleanup must go on with the next item
            self.failures.append(f"{what}: {type(exc).__name__}: {exc}")
