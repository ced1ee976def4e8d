"""Entry point of the rabbitmq backend in the ``anymq`` group; imports no client library."""

from __future__ import annotations

from anymq.hookspecs import BackendSpec, hookimpl


@hookimpl
def anymq_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            name="rabbitmq",
            schemes=("amqp", "amqps"),
            driver="anymq_rabbitmq.driver:RabbitBroker",
            extra="rabbitmq",
            description="RabbitMQ through aio-pika: exchanges, queues, streams",
            compare_profile="anymq_rabbitmq.profile:PROFILE",
        )
    ]
