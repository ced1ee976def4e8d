"""How ``anymq compare`` runs Kafka: its URL variable, ports, waiting knobs, raw baseline.

Imports no client library: the aiokafka baseline is named, and imported only to measure.
"""

from __future__ import annotations

from anymq.compare.profile import CompareProfile

PROFILE = CompareProfile(
    kind="kafka",
    env="ANYMQ_KAFKA_URL",
    default_ports={"kafka": 9092, "kafka+ssl": 9093},
    clients=("aiokafka",),
    loggers=("aiokafka",),
    # as tests/contract/test_kafka.py: group joins take a few heartbeats, and retention
    # runs on the broker's log.retention.check.interval.ms (1 s on compose/kafka.sh's broker)
    tuning={
        "quiet_period": 0.5,
        "delivery_timeout": 30.0,
        "retention_seconds": 1.0,
        "retention_timeout": 60.0,
    },
    baseline="anymq_kafka.baseline:BASELINE",
)
