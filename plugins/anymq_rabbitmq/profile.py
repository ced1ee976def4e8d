"""How ``anymq compare`` runs RabbitMQ: its URL variable, ports, waiting knobs, raw baseline.

Imports no client library: the aio-pika baseline is named, and imported only to measure.
"""

from __future__ import annotations

from anymq.compare.profile import CompareProfile

PROFILE = CompareProfile(
    kind="rabbitmq",
    env="ANYMQ_RABBITMQ_URL",
    default_ports={"amqp": 5672, "amqps": 5671},
    clients=("aio-pika", "aiormq"),
    loggers=("aio_pika", "aiormq"),
    # as tests/contract/test_rabbitmq.py (stream mode, the slower of its two adoptions)
    tuning={
        "quiet_period": 0.4,
        "delivery_timeout": 15.0,
        "retention_seconds": 1.0,
        "retention_timeout": 30.0,
    },
    baseline="anymq_rabbitmq.baseline:BASELINE",
)
