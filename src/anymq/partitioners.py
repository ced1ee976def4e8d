"""Key placement that agrees with the Java Kafka client, and round robin.

``murmur2`` is Kafka's hash (seed 0x9747b28c); placing a key on
``(murmur2(key) & 0x7fffffff) % partitions`` puts it on the same partition a Java or
aiokafka producer would, so per-key order holds across mixed producers.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable

_M = 0x5BD1E995
_MASK32 = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash of ``data`` as a signed 32-bit int (Utils.murmur2)."""
    length = len(data)
    h = (0x9747B28C ^ length) & _MASK32
    end = length & ~3
    for i in range(0, end, 4):
        k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)
        k = (k * _M) & _MASK32
        k ^= k >> 24
        k = (k * _M) & _MASK32
        h = (h * _M) & _MASK32
        h ^= k
    rest = length & 3
    if rest == 3:
        h ^= data[end + 2] << 16
    if rest >= 2:
        h ^= data[end + 1] << 8
    if rest >= 1:
        h ^= data[end]
        h = (h * _M) & _MASK32
    h ^= h >> 13
    h = (h * _M) & _MASK32
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def key_partition(key: bytes, partitions: int) -> int:
    """The partition a Java-compatible producer picks for ``key``."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def hash_partitioner() -> Callable[[bytes | None, int], int]:
    """Keys by murmur2; messages without a key spread round robin."""
    counter = itertools.count(random.randrange(1 << 16))

    def pick(key: bytes | None, partitions: int) -> int:
        if key is None:
            return next(counter) % partitions
        return (murmur2(key) & 0x7FFFFFFF) % partitions

    return pick


def round_robin_partitioner() -> Callable[[bytes | None, int], int]:
    """Every message to the next partition, ignoring keys: an even spread."""
    counter = itertools.count(random.randrange(1 << 16))

    def pick(key: bytes | None, partitions: int) -> int:
        return next(counter) % partitions

    return pick


def make(name: str) -> Callable[[bytes | None, int], int]:
    """The partitioner called ``name`` ('hash' or 'round_robin')."""
    if name == "hash":
        return hash_partitioner()
    if name == "round_robin":
        return round_robin_partitioner()
    from anymq.errors import ConfigError

    raise ConfigError(f"partitioner must be 'hash' or 'round_robin', got {name!r}")
