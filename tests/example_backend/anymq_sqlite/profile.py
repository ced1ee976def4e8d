"""How ``anymq compare`` runs sqlite:// (plain data; the baseline is imported only to measure)."""

from __future__ import annotations

from anymq.compare.profile import CompareProfile, no_network

PROFILE = CompareProfile(
    kind="sqlite",
    env="ANYMQ_SQLITE_URL",  # compared by default when set, e.g. sqlite:////tmp/anymq.db
    address=no_network,  # a file: no host to probe
    # as tests/contract/test_sqlite.py
    tuning={"quiet_period": 0.2, "delivery_timeout": 10.0},
    baseline="tests.example_backend.anymq_sqlite.baseline:BASELINE",
)
