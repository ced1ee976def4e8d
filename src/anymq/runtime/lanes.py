"""Per-key lanes: which fetched messages may start now without breaking per-key order.

A key's messages wait in its lane behind the one being handled and start one after the
other; messages of other keys pass them. Messages without a key belong to no lane: they
start as soon as a slot is free, in no particular order (give a message a key when its
order matters; a partition is no order domain here, so one hot partition does not cap the
concurrency of keyless traffic). No I/O and no asyncio: the runner owns the waiting.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from anymq.message import Received


class Lanes:
    """Fetched-but-not-started messages, per key, and the ones that may start now."""

    __slots__ = ("_lanes", "ready", "waiting")

    def __init__(self) -> None:
        self._lanes: dict[bytes, deque[Received]] = {}
        """Keys with a message in progress (or ready) -> their later messages, in order."""
        self.ready: deque[Received] = deque()
        """Messages that may start now: keyless ones and the head of each idle lane."""
        self.waiting = 0
        """Messages added and not taken yet (ready plus queued in lanes)."""

    def add(self, message: Received) -> None:
        """A fetched message: ready at once unless its key has one in progress."""
        self.extend((message,))

    def extend(self, messages: Sequence[Received]) -> None:
        """A fetched batch, as :meth:`add` of each in order (one call per batch: this is on
        the runtime's per-message path)."""
        self.waiting += len(messages)
        ready = self.ready
        lanes = self._lanes
        for message in messages:
            key = message.key
            if key is None:
                ready.append(message)
                continue
            lane = lanes.get(key)
            if lane is None:
                lanes[key] = deque()
                ready.append(message)
            else:
                lane.append(message)

    def take(self) -> Received | None:
        """The next message to start, or None when none may start now."""
        ready = self.ready
        if not ready:
            return None
        self.waiting -= 1
        return ready.popleft()

    def done(self, message: Received) -> None:
        """``message`` (taken before) is finished: the next of its key becomes ready."""
        key = message.key
        if key is None:
            return
        lane = self._lanes.get(key)
        if lane:
            self.ready.append(lane.popleft())
        elif lane is not None:
            del self._lanes[key]

    def busy_keys(self) -> int:
        """Keys with a message in progress or waiting (for health and tests)."""
        return len(self._lanes)
