"""Dead-letter headers in Spring Kafka's format, so Java tooling can read anymq's dead letters.

A dead-lettered message keeps its key, value and headers and gains
``kafka_dlt-original-topic`` / ``-partition`` (4-byte big-endian) / ``-offset`` and
``-timestamp`` (8-byte big-endian) / ``-consumer-group`` / ``-exception-fqcn`` /
``-exception-message``, plus ``anymq-delivery-count``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from anymq.message import Received

PREFIX = "kafka_dlt-"
#: The exception named when a message ran out of deliveries (no handler exception is known).
LIMIT_EXCEEDED = "anymq.DeliveryLimitExceeded"


def dead_letter_headers(
    headers: dict[str, bytes],
    *,
    topic: str,
    partition: int | None,
    offset: int | None,
    timestamp_ms: int | None,
    group: str | None,
    delivery_count: int,
    reason: str,
    exception: str = LIMIT_EXCEEDED,
) -> dict[str, bytes]:
    """The original headers plus where the message came from and why it was dead-lettered
    (``exception``: the fully qualified name of the error that made it a dead letter)."""
    out = dict(headers)
    out[PREFIX + "original-topic"] = topic.encode()
    if partition is not None:
        out[PREFIX + "original-partition"] = partition.to_bytes(4, "big", signed=True)
    if offset is not None:
        out[PREFIX + "original-offset"] = offset.to_bytes(8, "big", signed=True)
    if timestamp_ms is not None:
        out[PREFIX + "original-timestamp"] = timestamp_ms.to_bytes(8, "big", signed=True)
    if group is not None:
        out[PREFIX + "original-consumer-group"] = group.encode()
    out[PREFIX + "exception-fqcn"] = exception.encode()
    out[PREFIX + "exception-message"] = reason.encode()
    out["anymq-delivery-count"] = str(delivery_count).encode()
    return out


def original_topic(headers: dict[str, bytes]) -> str | None:
    """The topic a dead letter came from, if the headers say."""
    raw = headers.get(PREFIX + "original-topic")
    return raw.decode() if raw is not None else None


def headers_for(
    message: Received,
    *,
    group: str | None,
    reason: str,
    topic: str | None = None,
    exception: str = LIMIT_EXCEEDED,
) -> dict[str, bytes]:
    """Dead-letter headers for a received message (its position where it has one)."""
    return dead_letter_headers(
        message.headers,
        topic=topic or message.topic,
        partition=message.partition,
        offset=message.offset,
        timestamp_ms=message.timestamp_ms,
        group=group,
        delivery_count=message.delivery_count,
        reason=reason,
        exception=exception,
    )
