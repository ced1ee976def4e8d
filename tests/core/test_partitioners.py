"""Key placement agrees with the Java Kafka client; round robin is even."""

from __future__ import annotations

from collections import Counter

import pytest

from anymq import partitioners
from anymq.errors import ConfigError


@pytest.mark.parametrize(
    ("key", "expected"),
    [(b"21", -973932308), (b"foobar", -790332482), (b"abc", 479470107)],
)
def test_murmur2_matches_kafka_test_vectors(key: bytes, expected: int) -> None:
    assert partitioners.murmur2(key) == expected


def test_key_partition_is_java_compatible() -> None:
    # (murmur2 & 0x7fffffff) % n, as in Kafka's BuiltInPartitioner.partitionForKey
    assert partitioners.key_partition(b"21", 3) == (-973932308 & 0x7FFFFFFF) % 3
    pick = partitioners.make("hash")
    assert all(
        pick(b"user-%d" % i, 7) == partitioners.key_partition(b"user-%d" % i, 7) for i in range(200)
    )


def test_round_robin_is_even_and_ignores_keys() -> None:
    pick = partitioners.make("round_robin")
    spread = Counter(pick(b"same", 4) for _ in range(400))
    assert sorted(spread.values()) == [100, 100, 100, 100]


def test_unknown_partitioner_is_refused() -> None:
    with pytest.raises(ConfigError, match="round_robin"):
        partitioners.make("sticky")
