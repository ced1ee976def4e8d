"""Plain value types shared by every backend: retention, positions, topic and group info."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from anymq.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Retention:
    """How long a topic keeps messages: by age, by size, by count (None = broker default)."""

    time: timedelta | None = None
    bytes: int | None = None
    messages: int | None = None

    def __post_init__(self) -> None:
        if self.time is not None and (
            not isinstance(self.time, timedelta) or self.time <= timedelta(0)
        ):
            raise ConfigError(f"Retention.time must be a positive timedelta, got {self.time!r}")
        for name in ("bytes", "messages"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value <= 0):
                raise ConfigError(f"Retention.{name} must be a positive int, got {value!r}")

    @property
    def is_default(self) -> bool:
        return self.time is None and self.bytes is None and self.messages is None


PositionKind = Literal["earliest", "latest", "offset", "timestamp"]


@dataclass(frozen=True, slots=True)
class Position:
    """Where a consumer starts or seeks to; build one with the class methods."""

    kind: PositionKind
    offset: int | None = None
    timestamp: datetime | None = None
    partition: int | None = None
    """Only this partition (None: every partition the consumer has)."""

    @classmethod
    def earliest(cls) -> Position:
        """The oldest message still kept."""
        return cls("earliest")

    @classmethod
    def latest(cls) -> Position:
        """Only messages sent from now on."""
        return cls("latest")

    @classmethod
    def at_offset(cls, offset: int, partition: int | None = None) -> Position:
        """The message at this offset (per partition)."""
        if not isinstance(offset, int) or offset < 0:
            raise ConfigError(f"offset must be an int >= 0, got {offset!r}")
        return cls("offset", offset=offset, partition=partition)

    @classmethod
    def at_time(cls, when: datetime) -> Position:
        """The first message stamped at or after ``when`` (naive datetimes are UTC)."""
        if not isinstance(when, datetime):
            raise ConfigError(f"Position.at_time needs a datetime, got {when!r}")
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return cls("timestamp", timestamp=when)

    # Short aliases matching the documented API: Position.offset(5), Position.timestamp(dt).
    @classmethod
    def parse(cls, value: str | Position) -> Position:
        """Accept a Position or the strings 'earliest' / 'latest'."""
        if isinstance(value, Position):
            return value
        if value == "earliest":
            return cls("earliest")
        if value == "latest":
            return cls("latest")
        raise ConfigError(f"start must be 'earliest', 'latest' or an anymq.Position, got {value!r}")

    @property
    def timestamp_ms(self) -> int | None:
        if self.timestamp is None:
            return None
        return int(self.timestamp.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class TopicInfo:
    """What a broker knows about a topic."""

    name: str
    partitions: int
    retention: Retention = field(default_factory=Retention)
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PartitionLag:
    """A group's position on one partition (or queue)."""

    partition: int | None
    committed: int | None
    """Next offset the group will read; None where the broker has no offsets."""
    end: int | None
    """Offset the next message sent will get; None where the broker has no offsets."""
    lag: int
    """Messages waiting for the group on this partition."""


@dataclass(frozen=True, slots=True)
class GroupInfo:
    """A consumer group's position and backlog on a topic."""

    topic: str
    group: str
    partitions: tuple[PartitionLag, ...]
    members: int | None = None
    in_flight: int | None = None
    """Delivered but not yet settled, where the broker can tell."""

    @property
    def backlog(self) -> int:
        """Messages waiting for the group, summed over partitions."""
        return sum(p.lag for p in self.partitions)
