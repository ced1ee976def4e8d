"""testcontainers for users with a Docker engine (not used where none answers)."""

from __future__ import annotations

import atexit
from typing import Any

from tests.brokers import BrokerKind

_started: dict[str, Any] = {}


def start_container(kind: BrokerKind) -> str:
    """Start (once per session) a container for ``kind`` and return its URL."""
    if kind.name in _started:
        return str(_started[kind.name][1])
    if kind.name == "kafka":
        from testcontainers.kafka import KafkaContainer

        container: Any = KafkaContainer(kind.image).with_kraft()
        container.start()
        url = "kafka://" + container.get_bootstrap_server()
    elif kind.name == "rabbitmq":
        from testcontainers.rabbitmq import RabbitMqContainer

        container = RabbitMqContainer(kind.image)
        container.start()
        host, port = container.get_container_host_ip(), container.get_exposed_port(5672)
        url = f"amqp://guest:guest@{host}:{port}/"
    elif kind.name == "redis":
        from testcontainers.redis import RedisContainer

        container = RedisContainer(kind.image)
        container.start()
        host, port = container.get_container_host_ip(), container.get_exposed_port(6379)
        url = f"redis://{host}:{port}/0"
    elif kind.name == "nats":
        from testcontainers.core.container import DockerContainer
        from testcontainers.core.waiting_utils import wait_for_logs

        container = DockerContainer(kind.image).with_command("-js").with_exposed_ports(4222)
        container.start()
        wait_for_logs(container, "Server is ready")
        host, port = container.get_container_host_ip(), container.get_exposed_port(4222)
        url = f"nats://{host}:{port}"
    else:
        from testcontainers.localstack import LocalStackContainer

        container = LocalStackContainer(kind.image).with_services("sqs", "sns")
        container.start()
        endpoint = container.get_url()
        url = f"sqs://?endpoint_url={endpoint}&region=us-east-1"
    atexit.register(container.stop)
    _started[kind.name] = (container, url)
    return url
