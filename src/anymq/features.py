"""What a backend guarantees, declared up front so code and the contract suite can rely on it.

A backend lists the features it really has in its :class:`Capabilities`. Asking for anything
else raises :class:`~anymq.errors.UnsupportedFeature` at the call that needs it; the contract
suite proves both halves on every backend.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from anymq.errors import InvalidTopicName, UnsupportedFeature


class Feature(StrEnum):
    """One guarantee or ability a backend may declare."""

    CONSUMER_GROUPS = "consumer_groups"
    """Members of one group share the messages, each message to one member."""
    FAN_OUT = "fan_out"
    """Several groups on one topic each receive every message."""
    BROADCAST = "broadcast"
    """Consumers without a group each receive every message sent while they are subscribed."""
    DURABLE_GROUPS = "durable_groups"
    """A group keeps its position: what was sent while all members were down waits for them."""
    RETAINS_CONSUMED = "retains_consumed"
    """Event broker: messages stay after they are acked; a new group can read the history."""
    REPLAY = "replay"
    """Consumers can seek to the earliest, latest or a given offset."""
    SEEK_TIME = "seek_time"
    """Consumers can seek to the first message at or after a timestamp."""
    PARTITIONS = "partitions"
    """Topics have several partitions; keys keep their partition."""
    ROUND_ROBIN = "round_robin"
    """The producer can spread messages over partitions evenly, ignoring keys."""
    KEY_ORDERING = "key_ordering"
    """Messages with the same key are received in the order they were sent."""
    DEAD_LETTER = "dead_letter"
    """After max_deliveries failed attempts a message moves to a dead-letter topic."""
    RETENTION_TIME = "retention_time"
    """Messages older than Retention.time are removed."""
    RETENTION_BYTES = "retention_bytes"
    """The oldest messages are removed once a partition or queue holds over Retention.bytes."""
    RETENTION_MESSAGES = "retention_messages"
    """The oldest messages are removed once there are more than Retention.messages."""
    DELAYED_DELIVERY = "delayed_delivery"
    """A message can be sent with a delay before it becomes visible."""
    NACK_DELAY = "nack_delay"
    """A nacked message can be redelivered after a delay."""
    ROUTING_KEYS = "routing_keys"
    """Consumers can subscribe to a subset of a topic with a binding pattern."""
    EXACTLY_ONCE = "exactly_once"
    """No duplicates, even across crashes and failover."""

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class NameRule:
    """A backend's rule for topic and group names, stated so errors can quote it."""

    pattern: str = r"[A-Za-z0-9._-]{1,249}"
    description: str = "1 to 249 characters from A-Z, a-z, 0-9, '.', '_' and '-'"

    def check(self, name: object, what: str = "topic") -> str:
        """Return the name if it follows the rule, else raise InvalidTopicName."""
        if not isinstance(name, str):
            raise InvalidTopicName(repr(name), f"a {what} name must be a str", what=what)
        if not re.fullmatch(self.pattern, name):
            raise InvalidTopicName(name, f"use {self.description}", what=what)
        return name


@dataclass(frozen=True, slots=True)
class Capabilities:
    """The features and limits a backend declares."""

    backend: str
    features: frozenset[Feature] = frozenset()
    max_message_bytes: int = 1_000_000
    """Largest value + key + headers anymq accepts; checked before anything is sent."""
    max_batch: int = 10_000
    """Most messages one ``send_batch`` passes to the broker at once (larger batches are split)."""
    max_headers: int | None = None
    """Most headers per message, or None for no limit."""
    max_partitions: int = 1
    topic_names: NameRule = field(default_factory=NameRule)

    def __contains__(self, feature: object) -> bool:
        return feature in self.features

    def require(self, *features: Feature, detail: str | None = None) -> None:
        """Raise UnsupportedFeature for the first feature that is not declared."""
        for feature in features:
            if feature not in self.features:
                raise UnsupportedFeature(feature.value, self.backend, detail)

    def with_features(self, features: Iterable[Feature]) -> Capabilities:
        """A copy with a different feature set (for backend modes such as streams)."""
        return Capabilities(
            backend=self.backend,
            features=frozenset(features),
            max_message_bytes=self.max_message_bytes,
            max_batch=self.max_batch,
            max_headers=self.max_headers,
            max_partitions=self.max_partitions,
            topic_names=self.topic_names,
        )
