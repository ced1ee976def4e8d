"""Who reads which partition of a group: a roster and one lease per partition, in a
JetStream key-value bucket of the group's own.

JetStream hands each message of a consumer to whichever member pulls first, so two members
on one consumer would split a key's messages. A group therefore has one durable consumer per
partition, and its members split the partitions as Kafka's do: each one heartbeats its
roster key ``m.<member>`` (the bucket's TTL removes a member that stopped), takes the
partitions its rank gives it (contiguous ranges; member ids start with their join time, so a
newcomer takes its share from the end) by creating the lease key ``p.<partition>``, and
renews its leases with compare-and-set on their revision. A partition moves only after its
owner released it between two pulls (nak'ing what it held first, so the next owner gets
those again before anything newer) or its lease ran out: the TTL is longer than
``ack_wait`` plus a pull, so by then JetStream has queued everything the dead owner held
for redelivery, and redeliveries go out before new messages.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
import uuid

from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js import errors as js_errors
from nats.js.kv import KeyValue

from anymq_nats.puller import PULL_SECONDS

BEAT_SECONDS = 0.5
"""How often a member renews its keys and looks for partitions to move."""


def bucket_name(stream: str, group: str) -> str:
    """The group's bucket: a name from [A-Za-z0-9_-], whatever the topic's and group's."""
    return "anymq-" + hashlib.sha256(f"{stream}\0{group}".encode()).hexdigest()[:32]


def lease_ttl(ack_wait: float) -> float:
    """Seconds an unrenewed key lives: past the ack_wait of anything the owner was handed
    (its last progress signal or its last pull came at most a beat before it died)."""
    return ack_wait + BEAT_SECONDS + PULL_SECONDS + 0.5


def owner(partition: int, partitions: int, members: int) -> int:
    """Which member (index into the sorted roster) owns ``partition``."""
    return partition * members // partitions


class Membership:
    """This member's place in a group: heartbeats, its target partitions, its leases."""

    def __init__(self, js: JetStreamContext, stream: str, group: str, partitions: int):
        self.js = js
        self.bucket = bucket_name(stream, group)
        self.description = f"anymq members of group {group!r} on {stream!r}"
        self.partitions = partitions
        self.me = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        self.kv: KeyValue | None = None
        self.leases: dict[int, int] = {}
        """Partition -> revision of this member's lease key."""

    async def join(self, ack_wait: float) -> None:
        """Open the group's bucket (the first member creates it with its TTL)."""
        try:
            self.kv = await self.js.key_value(self.bucket)
        except js_errors.BucketNotFoundError:
            config = js_api.KeyValueConfig(
                bucket=self.bucket,
                description=self.description,
                ttl=lease_ttl(ack_wait),
                storage=js_api.StorageType.MEMORY,
            )
            try:
                self.kv = await self.js.create_key_value(config)
            except js_errors.APIError:  # another member created it meanwhile
                self.kv = await self.js.key_value(self.bucket)

    async def beat(self) -> list[str]:
        """Announce this member alive; return the live members in join order."""
        assert self.kv is not None
        await self.kv.put(f"m.{self.me}", b"")
        info = await self.js.stream_info(f"KV_{self.bucket}", f"$KV.{self.bucket}.m.>")
        members = (info.state.subjects or {}) if info.state else {}
        prefix = len(f"$KV.{self.bucket}.m.")
        return sorted(subject[prefix:] for subject in members)

    async def target(self) -> set[int]:
        """The partitions this member's rank gives it now."""
        members = await self.beat()
        if self.me not in members:  # not listed yet (cannot be: the put came first)
            members = sorted([*members, self.me])
        rank, count, n = members.index(self.me), len(members), self.partitions
        return {p for p in range(n) if owner(p, n, count) == rank}

    async def acquire(self, partition: int) -> bool:
        """Take ``partition`` if nobody holds its lease (its owner released it or died)."""
        assert self.kv is not None
        try:
            self.leases[partition] = await self.kv.create(f"p.{partition}", self.me.encode())
        except js_errors.KeyWrongLastSequenceError:
            return False
        return True

    async def keep(self) -> list[int]:
        """Renew this member's leases; return those that were lost (another holds them)."""
        assert self.kv is not None
        lost = []
        for partition, revision in list(self.leases.items()):
            try:
                key = f"p.{partition}"
                self.leases[partition] = await self.kv.update(key, self.me.encode(), revision)
            except js_errors.KeyWrongLastSequenceError:
                del self.leases[partition]
                lost.append(partition)
        return lost

    async def release(self, partition: int) -> None:
        revision = self.leases.pop(partition, None)
        if revision is not None and self.kv is not None:
            with contextlib.suppress(js_errors.Error):
                await self.kv.delete(f"p.{partition}", last=revision)

    async def leave(self) -> None:
        for partition in list(self.leases):
            await self.release(partition)
        with contextlib.suppress(js_errors.Error):
            subject = f"$KV.{self.bucket}.m.{self.me}"
            await self.js.purge_stream(f"KV_{self.bucket}", subject=subject)
