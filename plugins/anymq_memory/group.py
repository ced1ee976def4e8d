"""Consumer-group state of the memory backend: positions, assignment, in-flight, redelivery.

A group owns, per partition, the committed position (everything before it is acked), the
fetch position (everything before it was delivered at least once), the offsets delivered
but not settled, acks beyond the committed position, and offsets waiting for redelivery.
Partitions are assigned to members round robin, so one partition is read by one member at a
time and per-key order holds: a partition that moves keeps its old owner's unsettled
messages with that owner, and the new owner starts reading it once they are settled. A
member's unsettled messages go back to the group when it leaves, which is what makes
failover lose nothing.

The bottom of the plugin's import graph: a member is any object (the group only needs its
identity), and the topic is reached through the ``wake`` callback it is given.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable


class PartitionState:
    """One partition's view from one group."""

    __slots__ = ("acked", "committed", "counts", "fetch", "inflight", "redeliver")

    def __init__(self, start: int) -> None:
        self.committed = start
        self.fetch = start
        self.inflight: dict[int, object] = {}
        """Offset -> the member it was delivered to."""
        self.acked: set[int] = set()
        self.redeliver: deque[int] = deque()
        self.counts: dict[int, int] = {}

    def reset(self, offset: int) -> None:
        """Seek: start over at ``offset``, forgetting acks and pending redeliveries."""
        self.committed = offset
        self.fetch = offset
        self.inflight.clear()
        self.acked.clear()
        self.redeliver.clear()
        self.counts.clear()

    def ack(self, offset: int) -> None:
        self.inflight.pop(offset, None)
        if offset < self.committed:
            return
        if offset == self.committed:
            committed = offset + 1
            acked = self.acked
            while committed in acked:
                acked.discard(committed)
                committed += 1
            counts = self.counts
            if committed == offset + 1:
                counts.pop(offset, None)
            else:
                for done in range(offset, committed):
                    counts.pop(done, None)
            self.committed = committed
        else:
            self.acked.add(offset)

    def skip_to(self, base: int) -> None:
        """Retention removed everything before ``base``: those offsets are gone for good."""
        if self.committed < base:
            self.committed = base
            self.acked = {o for o in self.acked if o >= base}
        if self.fetch < base:
            self.fetch = base
        if self.redeliver and self.redeliver[0] < base:
            self.redeliver = deque(o for o in self.redeliver if o >= base)


class GroupState:
    """A consumer group (or a broadcast consumer's private cursor) on one topic."""

    def __init__(self, name: str | None, starts: list[int], wake: Callable[[], None]) -> None:
        self.name = name
        self.parts = [PartitionState(s) for s in starts]
        self.wake = wake
        """Wakes the topic's waiting consumers (a rebalance may hand them partitions)."""
        self.members: list[object] = []
        self.assignment: dict[object, list[int]] = {}
        self.handover: dict[int, object] = {}
        """Partition -> its previous owner, while that one still holds unsettled messages of
        it (they stay invisible to others; the new owner starts once they are settled)."""

    def join(self, member: object) -> None:
        self.members.append(member)
        self._rebalance()

    def leave(self, member: object) -> None:
        """The member is gone: its unsettled messages go back to the group."""
        if member in self.members:
            self.members.remove(member)
        for part in self.parts:
            returned = [off for off, owner in part.inflight.items() if owner is member]
            for off in returned:
                del part.inflight[off]
            part.redeliver.extendleft(sorted(returned, reverse=True))
        self._rebalance()

    def _rebalance(self) -> None:
        count = len(self.parts)
        members = self.members
        before = self.assignment
        self.assignment = {m: [] for m in members}
        if members:
            for p in range(count):
                self.assignment[members[p % len(members)]].append(p)
        for member, parts in before.items():
            kept = self.assignment.get(member, ())
            for p in parts:
                if p not in kept and member in self.parts[p].inflight.values():
                    self.handover[p] = member
        self.wake()

    def busy(self, index: int, member: object) -> bool:
        """True while partition ``index``'s previous owner still holds unsettled messages of
        it: its new owner ``member`` waits, so a key is never worked on by two at once."""
        previous = self.handover.get(index)
        if previous is None:
            return False
        if previous is not member and previous in self.parts[index].inflight.values():
            return True
        del self.handover[index]
        return False

    def assigned(self, member: object) -> list[int]:
        return self.assignment.get(member, [])
