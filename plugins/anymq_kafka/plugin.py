"""Entry point of the kafka backend in the ``anymq`` group; imports no client library."""

from __future__ import annotations

from anymq.hookspecs import BackendSpec, hookimpl


@hookimpl
def anymq_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            name="kafka",
            schemes=("kafka", "kafka+ssl"),
            driver="anymq_kafka.driver:KafkaBroker",
            extra="kafka",
            description="Apache Kafka through aiokafka: partitions, groups, replay",
            compare_profile="anymq_kafka.profile:PROFILE",
        )
    ]
