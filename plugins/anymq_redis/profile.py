"""How ``anymq compare`` runs redis://: its URL variable, port, waiting knobs, raw baseline.

Imports no client library: the redis-py baseline is named, and imported only to measure.
"""

from __future__ import annotations

from anymq.compare.profile import CompareProfile

PROFILE = CompareProfile(
    kind="redis",
    env="ANYMQ_REDIS_URL",
    default_ports={"redis": 6379, "rediss": 6380},
    clients=("redis",),
    loggers=("redis",),
    # as tests/contract/test_redis.py
    tuning={
        "quiet_period": 0.3,
        "delivery_timeout": 20.0,
        "retention_seconds": 1.0,
        "retention_timeout": 20.0,
    },
    baseline="anymq_redis.baseline:BASELINE",
)
