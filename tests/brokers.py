"""Where the real brokers for the tests come from, in this order:

1. ``ANYMQ_<KIND>_URL`` (e.g. ``ANYMQ_KAFKA_URL``): your own broker.
2. testcontainers, when a Docker engine answers and the package is installed.
3. The native scripts in ``compose/`` (``compose/<kind>.sh start``), which install and start
   the broker on 127.0.0.1. They are idempotent, so a running broker is reused.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class BrokerKind:
    name: str
    env: str
    default_url: str
    script: str
    image: str | None = None


KINDS = {
    "kafka": BrokerKind(
        "kafka", "ANYMQ_KAFKA_URL", "kafka://127.0.0.1:9092", "kafka.sh", "apache/kafka:4.3.1"
    ),
    "rabbitmq": BrokerKind(
        "rabbitmq",
        "ANYMQ_RABBITMQ_URL",
        "amqp://guest:guest@127.0.0.1:5672/",
        "rabbitmq.sh",
        "rabbitmq:3-management",
    ),
    "sqs": BrokerKind(
        "sqs",
        "ANYMQ_SQS_URL",
        "sqs://127.0.0.1:4566?endpoint_url=http://127.0.0.1:4566&region=us-east-1",
        "sqs.sh",
        "localstack/localstack:4.14.0",
    ),
    "redis": BrokerKind(
        "redis", "ANYMQ_REDIS_URL", "redis://127.0.0.1:6379/0", "redis.sh", "redis:7.0"
    ),
    "nats": BrokerKind(
        "nats", "ANYMQ_NATS_URL", "nats://127.0.0.1:4222", "nats.sh", "nats:2.9-alpine"
    ),
}


def docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        done = subprocess.run(["docker", "info"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def native(kind: BrokerKind) -> str:
    """Start the broker with the project's script (idempotent) and return its URL."""
    subprocess.run(["bash", str(ROOT / "compose" / kind.script), "start"], check=True)
    return kind.default_url


def broker_url(name: str) -> str:
    """The URL of a real broker of this kind, starting one if needed."""
    kind = KINDS[name]
    configured = os.environ.get(kind.env)
    if configured:
        return configured
    if docker_answers():
        from tests.containers import start_container  # needs testcontainers

        return start_container(kind)
    return native(kind)
