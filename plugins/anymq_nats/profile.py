"""How ``anymq compare`` runs NATS: its URL variable, port, waiting knobs, raw baseline.

Imports no client library: the nats-py baseline is named, and imported only to measure.
"""

from __future__ import annotations

from anymq.compare.profile import CompareProfile

PROFILE = CompareProfile(
    kind="nats",
    env="ANYMQ_NATS_URL",
    default_ports={"nats": 4222},
    clients=("nats-py",),
    loggers=("nats",),
    # as tests/contract/test_nats.py
    tuning={
        "quiet_period": 0.3,
        "delivery_timeout": 15.0,
        "retention_seconds": 1.0,
        "retention_timeout": 20.0,
    },
    baseline="anymq_nats.baseline:BASELINE",
)
