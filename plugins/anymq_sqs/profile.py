"""How ``anymq compare`` runs SQS: its URL variable, the endpoint to probe, a smaller workload.

Imports no client library: the aiobotocore baseline is named, and imported only to measure.
"""

from __future__ import annotations

from anymq.compare.profile import CompareProfile
from anymq.url import URL


def endpoint(url: URL) -> tuple[str, int] | None:
    """host:port of a local endpoint (``sqs://host:port`` or ``?endpoint_url=``); None for
    AWS itself, which is left to the client and its credentials."""
    given = url.query.get("endpoint_url")
    where = URL.parse(given) if given else url
    if not where.host:
        return None
    return where.host, where.port or (443 if where.scheme == "https" else 80)


PROFILE = CompareProfile(
    kind="sqs",
    env="ANYMQ_SQS_URL",
    address=endpoint,
    clients=("aiobotocore", "botocore"),
    loggers=("botocore", "aiobotocore"),
    # as tests/contract/test_sqs.py: moto answers in 0.1-0.5 s
    tuning={"quiet_period": 0.3, "delivery_timeout": 20.0},
    # SQS is far slower than the rest: fewer messages keep the run short (the ratio to the
    # raw client is what matters)
    workload={"count": 400, "latency_samples": 40},
    quick_workload={"count": 100, "latency_samples": 10, "rounds": 1},
    baseline="anymq_sqs.baseline:BASELINE",
    # as tests/contract/test_sqs.py: a killed member's messages come back in 5 s, not 30 s
    suite_options={"visibility_timeout": "5"},
    # the partition tests wait for that, on an emulator that answers in 0.1-0.5 s
    min_test_timeout=90.0,
)
