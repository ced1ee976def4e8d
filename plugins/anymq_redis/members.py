"""Who reads which partition of a group: a roster and one lease per partition.

Redis has no group coordinator, and a consumer group hands each new entry to whichever
member asks first, so two members on one stream would split a key's messages. Members
therefore split the partitions among themselves as Kafka's do: each heartbeats into the
group's roster (a sorted set, member -> expiry), and takes the partitions its rank gives it
(contiguous ranges; member ids start with their join time, so a newcomer takes its share
from the end) with a lease key (SET NX PX) that only it extends. A partition moves only
after its old owner released it between two reads, or its lease ran out (the owner died):
one reader per partition at any time, so per-key order holds.
"""

from __future__ import annotations

import time
import uuid

from redis.asyncio import Redis

from anymq_redis import streams as keys

EXTEND = """
local lost = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('PEXPIRE', key, ARGV[2])
  else table.insert(lost, i - 1) end
end
return lost
"""
RELEASE = """
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
return 0
"""


def owner(partition: int, partitions: int, members: int) -> int:
    """Which member (index into the sorted roster) owns ``partition``."""
    return partition * members // partitions


class Membership:
    """This member's place in a group: heartbeats, its target partitions, its leases."""

    def __init__(self, client: Redis, topic: str, group: str, partitions: int, timeout: float):
        self.client = client
        self.topic = topic
        self.group = group
        self.partitions = partitions
        self.timeout_ms = int(timeout * 1000)
        self.me = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        self.roster = keys.roster(topic, group)
        self.extend = client.register_script(EXTEND)
        self.release_script = client.register_script(RELEASE)

    def lease(self, partition: int) -> str:
        return keys.lease(self.topic, self.group, partition)

    async def beat(self) -> list[str]:
        """Announce this member alive; return the live members in join order."""
        now = keys.now_ms()
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.zadd(self.roster, {self.me: now + self.timeout_ms})
            pipe.pexpire(self.roster, self.timeout_ms * 2)
            pipe.zremrangebyscore(self.roster, "-inf", now)
            pipe.zrange(self.roster, 0, -1)
            *_, members = await pipe.execute()
        return sorted(m.decode() for m in members)

    async def target(self) -> set[int]:
        """The partitions this member's rank gives it now."""
        members = await self.beat()
        rank, count = members.index(self.me), len(members)
        return {p for p in range(self.partitions) if owner(p, self.partitions, count) == rank}

    async def acquire(self, partition: int) -> bool:
        """Take ``partition`` if nobody holds its lease (its old owner released it or died)."""
        got = await self.client.set(self.lease(partition), self.me, nx=True, px=self.timeout_ms)
        return bool(got)

    async def keep(self, partitions: list[int]) -> list[int]:
        """Extend these leases; return those that were lost (another member holds them)."""
        if not partitions:
            return []
        lost = await self.extend(
            keys=[self.lease(p) for p in partitions], args=[self.me, self.timeout_ms]
        )
        return [partitions[int(i)] for i in lost]

    async def release(self, partitions: list[int]) -> None:
        if partitions:
            await self.release_script(keys=[self.lease(p) for p in partitions], args=[self.me])

    async def leave(self, partitions: list[int]) -> None:
        await self.release(partitions)
        await self.client.zrem(self.roster, self.me)
