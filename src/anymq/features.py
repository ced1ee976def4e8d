"""What a backend guarantees, declared up front so code and the contract suite can rely on it.

A backend lists the features it really has in its :class:`Capabilities`. Asking for anything
else raises :class:`~anymq.errors.UnsupportedFeature` at the call that needs it; the contract
suite proves both halves on every backend.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from anymq.errors import ConfigError, InvalidTopicName, UnsupportedFeature


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
    DECLARED_GROUPS = "declared_groups"
    """A group can exist before its first consumer (``Broker.create_group``): it gets every
    message sent after its declaration, whichever ``start`` its first consumer passes."""
    LIST_GROUPS = "list_groups"
    """``Broker.list_groups(topic)`` names the groups that exist on a topic (declared or
    consumed from), and no group of another topic."""
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
    COMPRESSION = "compression"
    """The producer compresses batches with one of ``Capabilities.compression``'s codecs."""

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


#: Header names anymq keeps for itself on every backend (RabbitMQ carries the key and the
#: timestamp in them), so code that works on one backend works on all.
ANYMQ_HEADER_PREFIX = "x-anymq-"


@dataclass(frozen=True, slots=True)
class HeaderRule:
    """How a backend carries the key and headers: the names it keeps, and their limits.

    Checked before anything is sent, so a header the broker would overwrite, drop, cut or
    refuse (possibly closing the connection) is an error at the call instead.
    """

    reserved: frozenset[str] = frozenset()
    """Exact names the backend or its broker uses itself (beyond the reserved prefixes)."""
    reserved_prefixes: tuple[str, ...] = (ANYMQ_HEADER_PREFIX,)
    why_reserved: str = "anymq keeps 'x-anymq-*' for its own metadata on every backend"
    max_name_bytes: int | None = None
    """Longest header name in UTF-8 bytes, or None when only the size limits apply."""
    max_metadata_bytes: int | None = None
    """Largest key + headers (see :meth:`size`); None: only ``max_message_bytes`` applies."""
    overhead: int = 0
    """Bytes each header costs on the wire besides its name and value (counted in size)."""
    metadata_limit: str = ""
    """Where ``max_metadata_bytes`` comes from, quoted in MessageTooLarge."""

    def reserved_name(self, name: str) -> bool:
        """True if ``name`` is one the backend keeps for itself."""
        return name in self.reserved or name.startswith(self.reserved_prefixes)

    def size(self, key: bytes | None, headers: Mapping[str, bytes] | None) -> int:
        """Bytes of key + headers as counted against ``max_metadata_bytes``."""
        total = len(key) if key is not None else 0
        for name, value in (headers or {}).items():
            total += len(name.encode("utf-8")) + len(value) + self.overhead
        return total


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
    max_nack_delay: float = 43_200.0
    """Longest ``nack(delay=...)`` in seconds (12 h, SQS's visibility limit, on every backend
    so code that works on one works on all); a longer one is refused before anything is sent."""
    topic_names: NameRule = field(default_factory=NameRule)
    headers: HeaderRule = field(default_factory=HeaderRule)
    """Reserved header names, the longest name and the key + headers limit."""
    compression: frozenset[str] = frozenset()
    """Codecs ``producer(compression=...)`` accepts (lower case), with Feature.COMPRESSION:
    only those the client library can really use in this process."""
    in_process: bool = False
    """True for a backend with no network between client and broker (memory://): nothing
    can be unreachable, so the contract suite proves a connect works instead."""

    @property
    def max_metadata_bytes(self) -> int:
        """Largest key + headers (``HeaderRule.size``) anymq accepts; checked before sending."""
        limit = self.headers.max_metadata_bytes
        return self.max_message_bytes if limit is None else limit

    def __contains__(self, feature: object) -> bool:
        return feature in self.features

    def require(self, *features: Feature, detail: str | None = None) -> None:
        """Raise UnsupportedFeature for the first feature that is not declared."""
        for feature in features:
            if feature not in self.features:
                raise UnsupportedFeature(feature.value, self.backend, detail)

    def codec(self, value: object) -> str:
        """The codec name for ``producer(compression=value)``, checked before anything runs.

        UnsupportedFeature where the backend does not compress at all (a silently ignored
        codec would hide that nothing is compressed); ConfigError for a codec it cannot use.
        """
        if not isinstance(value, str):
            raise ConfigError(f"compression must be a str codec name or None, got {value!r}")
        self.require(Feature.COMPRESSION, detail=f"compression={value!r}")
        name = value.lower()
        if name not in self.compression:
            valid = ", ".join(sorted(self.compression)) or "(none)"
            raise ConfigError(
                f"compression must be one of {valid} or None on {self.backend}, got {value!r} "
                "(codecs whose library is not installed are not offered)"
            )
        return name

    def with_features(self, features: Iterable[Feature]) -> Capabilities:
        """A copy with a different feature set (for backend modes such as streams)."""
        return replace(self, features=frozenset(features))
