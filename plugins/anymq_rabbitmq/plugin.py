"""The rabbitmq backend's plugin, registered in code (``anymq.plugins.DEFAULT_PLUGINS``) and as
an ``anymq`` entry point; imports no client library."""

from __future__ import annotations

from anymq.hookspecs import BackendSpec, hookimpl


@hookimpl
def anymq_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            name="rabbitmq",
            schemes=("amqp", "amqps"),
            driver="anymq_rabbitmq.driver:RabbitBroker",
            options="anymq_rabbitmq.options:RabbitOptions",
            extra="rabbitmq",
            install_hint="pip install 'anymq[rabbitmq]'",
            description="RabbitMQ through aio-pika: exchanges, queues, streams",
            compare_profile="anymq_rabbitmq.profile:PROFILE",
        )
    ]
