"""The names anymq's telemetry uses: semantic-convention attributes, metrics, systems.

Plain strings, no OpenTelemetry import: the attribute keys follow the OpenTelemetry
semantic conventions for messaging, v1.44.0 (``SCHEMA_URL``); what they have no name for
(the delivery count, the offset outside Kafka, the settle outcome, the lag) is under
``anymq.*``, as the conventions ask of custom attributes.
"""

from __future__ import annotations

from typing import Final

SCHEMA_URL: Final = "https://opentelemetry.io/schemas/1.44.0"
INSTRUMENTATION: Final = "anymq"

# -- attributes (semantic conventions) ----------------------------------------------------
SYSTEM: Final = "messaging.system"
DESTINATION: Final = "messaging.destination.name"
OPERATION_TYPE: Final = "messaging.operation.type"
OPERATION_NAME: Final = "messaging.operation.name"
GROUP: Final = "messaging.consumer.group.name"
MESSAGE_ID: Final = "messaging.message.id"
PARTITION: Final = "messaging.destination.partition.id"
KAFKA_OFFSET: Final = "messaging.kafka.offset"
BATCH_COUNT: Final = "messaging.batch.message_count"
BODY_SIZE: Final = "messaging.message.body.size"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
ERROR_TYPE: Final = "error.type"
FUNCTION: Final = "code.function.name"

# -- attributes (anymq's own) -----------------------------------------------------------
DELIVERY_COUNT: Final = "anymq.message.delivery_count"
"""1 on the first delivery, growing with each redelivery (no convention name exists)."""
OFFSET: Final = "anymq.message.offset"
"""The offset where the backend has one and is not Kafka (memory, RabbitMQ streams)."""
OUTCOME: Final = "anymq.settle.outcome"
"""How the runtime settled the message: ack, retry, dead_letter or reject."""

# -- metrics ------------------------------------------------------------------------------
SENT: Final = "messaging.client.sent.messages"
CONSUMED: Final = "messaging.client.consumed.messages"
PROCESS_DURATION: Final = "messaging.process.duration"
ACKED: Final = "anymq.client.acked.messages"
RETRIED: Final = "anymq.client.retried.messages"
DEAD_LETTERED: Final = "anymq.client.dead_lettered.messages"
LAG: Final = "anymq.consumer.lag"

# -- what travels in the headers ------------------------------------------------------------
TRACEPARENT: Final = "traceparent"

_SYSTEMS: Final = {"kafka": "kafka", "rabbitmq": "rabbitmq", "sqs": "aws_sqs"}


def system(backend: str, *, sending_to_sns: bool = False) -> str:
    """``messaging.system`` for a backend: the convention's value where it has one
    (``aws.sns`` for sends through SNS), ``anymq-<backend>`` otherwise (memory://)."""
    if sending_to_sns:
        return "aws.sns"
    return _SYSTEMS.get(backend, f"anymq-{backend}")


def error_type(error: BaseException) -> str:
    """``error.type``: the exception's fully qualified class name."""
    cls = type(error)
    module = "" if cls.__module__ == "builtins" else cls.__module__ + "."
    return module + cls.__qualname__
