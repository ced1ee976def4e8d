"""The kafka backend's plugin, registered in code (``anymq.plugins.DEFAULT_PLUGINS``) and as
an ``anymq`` entry point; imports no client library."""

from __future__ import annotations

from anymq.hookspecs import BackendSpec, hookimpl


@hookimpl
def anymq_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            name="kafka",
            schemes=("kafka", "kafka+ssl"),
            driver="anymq_kafka.driver:KafkaBroker",
            options="anymq_kafka.options:KafkaOptions",
            extra="kafka",
            install_hint="pip install 'anymq[kafka]'",
            description="Apache Kafka through aiokafka: partitions, groups, replay",
            compare_profile="anymq_kafka.profile:PROFILE",
        )
    ]
