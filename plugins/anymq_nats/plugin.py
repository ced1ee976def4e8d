"""The nats backend's plugin, registered in code (``anymq.plugins.DEFAULT_PLUGINS``) and as
an ``anymq`` entry point; imports no client library."""

from __future__ import annotations

from anymq.hookspecs import BackendSpec, hookimpl


@hookimpl
def anymq_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            name="nats",
            schemes=("nats",),
            driver="anymq_nats.driver:NatsBroker",
            options="anymq_nats.options:NatsOptions",
            extra="nats",
            install_hint="pip install 'anymq[nats]'",
            description="NATS JetStream through nats-py: streams, durable pull consumers, replay",
            compare_profile="anymq_nats.profile:PROFILE",
        )
    ]
