"""How ``anymq compare`` runs memory://: compared by default, against a bare asyncio.Queue."""

from __future__ import annotations

from anymq.compare.profile import CompareProfile, no_network

PROFILE = CompareProfile(
    kind="memory",
    default_url="memory://",
    address=no_network,
    # the same waiting knobs as tests/contract/test_memory.py: answers come in microseconds
    tuning={
        "quiet_period": 0.05,
        "delivery_timeout": 5.0,
        "retention_seconds": 0.3,
        "retention_timeout": 5.0,
    },
    baseline="anymq_memory.baseline:BASELINE",
)
