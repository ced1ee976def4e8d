"""Where a topic lives in Redis, and stream ids as anymq offsets.

    anymq:topics                          set of topic names (list_topics)
    anymq:topic:<topic>                   hash: partitions, max_messages, max_age_ms,
                                          approximate (the topic registry)
    anymq:stream:<topic>:<p>              the stream of partition p; a group is a consumer
                                          group on every partition's stream
    anymq:members:<topic>:<group>         sorted set: live members -> heartbeat expiry (ms)
    anymq:lease:<topic>:<group>:<p>       the member that reads partition p (expires)

Topic and group names cannot contain ':', so no two names share a key. An offset is the
stream id ``<ms>-<seq>`` packed into one int (``ms << 20 | seq``): ordered like the ids,
so seeking to a received message's offset finds it again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from anymq.errors import TopicNotFound
from anymq.model import Position, Retention

BACKEND = "redis"
TOPICS = "anymq:topics"
SEQ_BITS = 20
MAX_SEQ = (1 << 64) - 1
BLOCK = 0.5
"""Longest blocking read in seconds: a nack, a rebalance or a close waits no longer."""


def stream(topic: str, partition: int) -> str:
    return f"anymq:stream:{topic}:{partition}"


def registry(topic: str) -> str:
    return f"anymq:topic:{topic}"


def roster(topic: str, group: str) -> str:
    return f"anymq:members:{topic}:{group}"


def lease(topic: str, group: str, partition: int) -> str:
    return f"anymq:lease:{topic}:{group}:{partition}"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def parse_id(entry_id: bytes | str) -> tuple[int, int]:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def offset_of(entry_id: bytes | str) -> int:
    ms, seq = parse_id(entry_id)
    return ms << SEQ_BITS | seq


def id_before(ms: int, seq: int) -> str:
    """The largest id below ``ms-seq``: a group set there reads ``ms-seq`` next."""
    if seq > 0:
        return f"{ms}-{seq - 1}"
    return f"{ms - 1}-{MAX_SEQ}" if ms > 0 else "0-0"


def position_id(position: Position, partition: int) -> str:
    """The last-delivered id a group (or a reader) is set to for ``position``."""
    if position.kind == "earliest":
        return "0-0"
    if position.kind == "timestamp":
        return id_before(position.timestamp_ms or 0, 0)
    if position.kind == "offset" and position.partition in (None, partition):
        offset = position.offset or 0
        return id_before(offset >> SEQ_BITS, offset & ((1 << SEQ_BITS) - 1))
    return "$"


@dataclass(frozen=True, slots=True)
class TopicMeta:
    """A topic's registry entry: its partitions and how its streams are trimmed."""

    name: str
    partitions: int
    max_messages: int | None
    max_age_ms: int | None
    approximate: bool

    @property
    def streams(self) -> list[str]:
        return [stream(self.name, p) for p in range(self.partitions)]

    @property
    def retention(self) -> Retention:
        from datetime import timedelta

        age = self.max_age_ms
        return Retention(
            time=None if age is None else timedelta(milliseconds=age),
            messages=self.max_messages,
        )

    def record(self) -> dict[str, int]:
        out = {"partitions": self.partitions, "approximate": int(self.approximate)}
        if self.max_messages is not None:
            out["max_messages"] = self.max_messages
        if self.max_age_ms is not None:
            out["max_age_ms"] = self.max_age_ms
        return out

    def xadd_trim(self) -> dict[str, Any]:
        """XADD's own trimming: MAXLEN, else MINID (one per XADD; see :meth:`trim_age`)."""
        if self.max_messages is not None:
            return {"maxlen": self.max_messages, "approximate": self.approximate}
        if self.max_age_ms is not None:
            return {"minid": now_ms() - self.max_age_ms, "approximate": self.approximate}
        return {}

    def trim_age(self, pipe: Pipeline, partitions: range | list[int] | None = None) -> None:
        """XTRIM MINID: Redis does not expire entries by age, so anymq trims them at every
        send, receive tick and describe."""
        if self.max_age_ms is None:
            return
        minid = now_ms() - self.max_age_ms
        for p in range(self.partitions) if partitions is None else partitions:
            pipe.xtrim(stream(self.name, p), minid=minid, approximate=self.approximate)


async def load(client: Redis, topic: str) -> TopicMeta:
    """The topic's registry entry; TopicNotFound if there is none."""
    found = await client.hgetall(registry(topic))  # type: ignore[misc]
    if not found:
        raise TopicNotFound(topic, BACKEND)

    def num(name: bytes) -> int | None:
        value = found.get(name)
        return None if value is None else int(value)

    return TopicMeta(
        topic,
        num(b"partitions") or 1,
        num(b"max_messages"),
        num(b"max_age_ms"),
        bool(num(b"approximate")),
    )
