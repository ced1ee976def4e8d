"""A per-key order checker for tests where group members come and go (joins, kills).

Every message is ``b"<key>:<seq>"`` with ``seq`` counting up per key. The log keeps every
delivery and every ack in the order the test observed them (an ack is logged *before* it
is sent, so a race can only hide a violation, never invent one) and names what went wrong:

- ``missing``: sent, never received by a live member (nor possibly acked by a killed one);
- ``overtaken``: the first delivery of a key's message came before the first delivery of an
  earlier message of the same key (so no member steps back to a message nobody had; a
  redelivery may step back);
- ``taken_early``: a member got a message while an earlier message of its key was held
  unacked by another member and not also handed to it: two members would be working on
  one key at once, out of order. A handover is fine exactly when the new owner gets the
  old owner's unacked messages again first (Kafka: it restarts at the committed offset);
- ``unexplained_duplicates``: a message delivered again that is neither marked as a
  redelivery (``delivery_count > 1``) nor a handover (it went to another member than the
  delivery before it, which at-least-once allows when partitions move).

Duplicates themselves are allowed (at-least-once) and counted; only unexplained ones fail.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

from anymq.message import Received


@dataclass(frozen=True, slots=True)
class Delivery:
    member: str
    key: bytes
    seq: int
    partition: int | None
    count: int
    ack: bool = False
    """An ack of the message (logged before it is sent), not a delivery."""
    at: float = field(default_factory=time.monotonic, compare=False)
    """When it happened (``time.monotonic()``: one clock for every process on the machine,
    so a killed member's events interleave with the survivor's as they really happened)."""


def value(key: bytes, seq: int) -> bytes:
    return b"%s:%d" % (key, seq)


def parse(body: bytes) -> tuple[bytes, int]:
    key, _, seq = body.rpartition(b":")
    return key, int(seq)


@dataclass
class KeyLog:
    """Sent sequences per key and every delivery and ack, in the order observed."""

    sent: dict[bytes, list[int]] = field(default_factory=lambda: defaultdict(list))
    events: list[Delivery] = field(default_factory=list)
    settled_elsewhere: set[tuple[bytes, int]] = field(default_factory=set)
    """Messages a member that is gone may have acked: they need not arrive again."""
    gone: set[str] = field(default_factory=set)
    """Members that were killed: what they got but did not ack must arrive elsewhere."""

    def expect(self, key: bytes) -> bytes:
        """The next message of ``key``, remembered as sent."""
        seqs = self.sent[key]
        seqs.append(len(seqs))
        return value(key, seqs[-1])

    @property
    def total(self) -> int:
        return sum(len(s) for s in self.sent.values())

    def record(self, member: str, msg: Received) -> Delivery:
        key, seq = parse(msg.body)
        assert msg.key == key, f"{msg!r} carries key {msg.key!r}, its body says {key!r}"
        delivery = Delivery(member, key, seq, msg.partition, msg.delivery_count)
        self.events.append(delivery)
        return delivery

    def acking(self, member: str, msg: Received) -> None:
        """``member`` is about to ack ``msg``."""
        key, seq = parse(msg.body)
        self.events.append(Delivery(member, key, seq, msg.partition, msg.delivery_count, True))

    @property
    def deliveries(self) -> list[Delivery]:
        return [e for e in self.events if not e.ack]

    def received(self) -> set[tuple[bytes, int]]:
        """Messages delivered to a member that is still there."""
        return {(d.key, d.seq) for d in self.deliveries if d.member not in self.gone}

    def complete(self) -> bool:
        """Every sent message arrived (or was possibly acked by a member that is gone)."""
        return not self.missing()

    def missing(self) -> list[tuple[bytes, int]]:
        have = self.received() | self.settled_elsewhere
        return sorted((k, s) for k, seqs in self.sent.items() for s in seqs if (k, s) not in have)

    def passed_over(self) -> list[tuple[bytes, int]]:
        """Messages never delivered (nor possibly acked elsewhere) although a later message
        of their key was: lost, or about to arrive out of order. Either way the test fails,
        so a wait for them can end at once."""
        have = {(d.key, d.seq) for d in self.deliveries} | self.settled_elsewhere
        latest: dict[bytes, int] = {}
        for d in self.deliveries:
            latest[d.key] = max(latest.get(d.key, -1), d.seq)
        return sorted(
            (k, s)
            for k, seqs in self.sent.items()
            for s in seqs
            if s < latest.get(k, -1) and (k, s) not in have
        )

    def describe_missing(self) -> str:
        """Which sent messages no live member got, in words."""
        missing = self.missing()
        names = ", ".join(f"{k.decode(errors='replace')}:{s}" for k, s in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        return (
            f"the group was expected to receive {self.total} messages at least once each; "
            f"{len(missing)} lost (never reached a live member): {names or 'none'}{more} "
            f"({self.summary()})"
        )

    def overtaken(self) -> list[str]:
        """Keys whose first deliveries are not in the order the messages were sent."""
        first: dict[bytes, list[int]] = defaultdict(list)
        seen: set[tuple[bytes, int]] = set()
        for d in self.deliveries:
            if (d.key, d.seq) not in seen:
                seen.add((d.key, d.seq))
                first[d.key].append(d.seq)
        return [
            f"{key!r} first seen as {order}"
            for key, order in first.items()
            if order != sorted(order)
        ]

    def taken_early(self) -> list[str]:
        """Deliveries made while another member held an earlier message of the key."""
        open_: dict[bytes, dict[int, set[str]]] = defaultdict(dict)
        out = []
        for e in self.events:
            held = open_[e.key]
            if e.ack:
                holders = held.get(e.seq)
                if holders is not None:
                    holders.discard(e.member)
                    if not holders:
                        del held[e.seq]
                continue
            for seq, holders in held.items():
                if seq < e.seq and e.member not in holders:
                    out.append(
                        f"{e.member} got {e.key!r} #{e.seq} while {sorted(holders)} "
                        f"held #{seq} unacked"
                    )
            held[e.seq] = {e.member}  # delivered again: the broker took it back from the others
        return out

    def _explained(self, previous: Delivery, again: Delivery) -> bool:
        return again.count > 1 or again.member != previous.member

    def unexplained_duplicates(self) -> list[Delivery]:
        last: dict[tuple[bytes, int], Delivery] = {}
        out = []
        for d in self.deliveries:
            before = last.get((d.key, d.seq))
            if before is not None and not self._explained(before, d):
                out.append(d)
            last[(d.key, d.seq)] = d
        return out

    @property
    def duplicates(self) -> int:
        return len(self.deliveries) - len({(d.key, d.seq) for d in self.deliveries})

    def by_member(self) -> dict[str, list[Delivery]]:
        out: dict[str, list[Delivery]] = defaultdict(list)
        for d in self.deliveries:
            out[d.member].append(d)
        return dict(out)

    def summary(self) -> str:
        members = {m: len(ds) for m, ds in self.by_member().items()}
        return (
            f"sent={self.total} deliveries={len(self.deliveries)} per member={members} "
            f"missing={len(self.missing())} duplicates={self.duplicates}"
        )

    def assert_in_order(self) -> None:
        """Nothing missing, overtaken or taken early; every duplicate explained."""
        assert not self.missing(), self.describe_missing()
        overtaken = self.overtaken()
        assert not overtaken, f"a later message overtook: {overtaken[:5]} ({self.summary()})"
        early = self.taken_early()
        assert not early, f"two members on one key at once: {early[:5]} ({self.summary()})"
        dups = self.unexplained_duplicates()
        assert not dups, (
            f"delivered again to the same member without a redelivery mark: {dups[:5]} "
            f"({self.summary()})"
        )
