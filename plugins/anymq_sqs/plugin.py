"""The sqs backend's plugin, registered in code (``anymq.plugins.DEFAULT_PLUGINS``) and as
an ``anymq`` entry point; imports no client library."""

from __future__ import annotations

from anymq.hookspecs import BackendSpec, hookimpl


@hookimpl
def anymq_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            name="sqs",
            schemes=("sqs",),
            driver="anymq_sqs.driver:SQSBroker",
            options="anymq_sqs.options:SqsOptions",
            extra="sqs",
            install_hint="pip install 'anymq[sqs]'",
            description="Amazon SQS (+SNS fan-out) through aiobotocore",
            compare_profile="anymq_sqs.profile:PROFILE",
        )
    ]
