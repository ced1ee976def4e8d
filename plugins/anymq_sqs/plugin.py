"""Entry point of the sqs backend in the ``anymq`` group; imports no client library."""

from __future__ import annotations

from anymq.hookspecs import BackendSpec, hookimpl


@hookimpl
def anymq_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            name="sqs",
            schemes=("sqs",),
            driver="anymq_sqs.driver:SQSBroker",
            extra="sqs",
            description="Amazon SQS (+SNS fan-out) through aiobotocore",
            compare_profile="anymq_sqs.profile:PROFILE",
        )
    ]
