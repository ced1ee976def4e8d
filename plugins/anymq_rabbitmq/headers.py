"""Message properties on the wire and back: anymq headers, key, timestamp, dead-letter info.

AMQP has no message key and only second-resolution timestamps, so anymq carries the key
and a millisecond timestamp in headers of its own (``x-anymq-*``). Everything RabbitMQ or
anymq adds is stripped on receipt, so user headers come back exactly as sent. A message
that RabbitMQ dead-lettered (it has ``x-death``) gets Spring Kafka's ``kafka_dlt-*``
headers instead, the same ones every anymq backend writes, so a dead letter looks alike
whatever the broker.
"""

from __future__ import annotations

import time
from typing import Any

from anymq.deadletter import PREFIX as DLT

KEY = "x-anymq-key"
TIMESTAMP = "x-anymq-ts"
OFFSET = "x-anymq-offset"
ORIGIN = "x-anymq-topic"
MARKER = "x-anymq-marker"
DELIVERY_COUNT = "x-delivery-count"
STREAM_OFFSET = "x-stream-offset"

#: Headers RabbitMQ adds (dead-lettering, quorum queues, streams, shovels) and anymq's own.
_STRIPPED = frozenset(
    {
        DELIVERY_COUNT,
        STREAM_OFFSET,
        "x-death",
        "x-first-death-exchange",
        "x-first-death-queue",
        "x-first-death-reason",
        "x-last-death-exchange",
        "x-last-death-queue",
        "x-last-death-reason",
        "x-received-from",
    }
)

_REASONS = {
    "delivery_limit": ("anymq.DeliveryLimitExceeded", "delivery limit reached"),
    "rejected": ("anymq.Rejected", "rejected without requeue"),
    "expired": ("anymq.Expired", "expired by retention (message TTL)"),
    "maxlen": ("anymq.RetentionExceeded", "dropped by retention (queue length or bytes)"),
}


def now_ms() -> int:
    return int(time.time() * 1000)


def encode(headers: dict[str, bytes] | None, key: bytes | None, ts: int) -> dict[str, Any]:
    """An AMQP header table: UTF-8 values as long strings, other bytes as byte arrays."""
    table: dict[str, Any] = {TIMESTAMP: ts}
    if key is not None:
        table[KEY] = bytearray(key)
    if headers:
        for name, value in headers.items():
            try:
                table[name] = value.decode("utf-8")
            except UnicodeDecodeError:
                table[name] = bytearray(value)
    return table


def _bytes(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return str(value).encode("utf-8")


def as_text(value: Any) -> str:
    """A header value as text, for matching headers bindings client-side."""
    return _bytes(value).decode("utf-8", "replace")


def decode(
    table: dict[str, Any] | None,
) -> tuple[dict[str, bytes], bytes | None, int | None]:
    """User headers, key and millisecond timestamp out of a received header table."""
    if not table:
        return {}, None, None
    headers: dict[str, bytes] = {}
    key: bytes | None = None
    ts: int | None = None
    dead = False
    for name, value in table.items():
        if name.startswith("x-"):
            if name == TIMESTAMP:
                ts = int(value)
                continue
            if name == KEY:
                key = bytes(value) if not isinstance(value, str) else value.encode("utf-8")
                continue
            if name in _STRIPPED:
                if name == "x-death":
                    dead = True
                continue
            if name.startswith("x-anymq-"):
                continue
        headers[name] = _bytes(value)
    if dead:
        headers.update(dead_letter_headers(table, ts))
    return headers, key, ts


def dead_letter_headers(table: dict[str, Any], ts: int | None) -> dict[str, bytes]:
    """Spring Kafka's dead-letter headers from RabbitMQ's ``x-death`` record."""
    deaths = table.get("x-death")
    if not isinstance(deaths, list) or not deaths:
        return {}
    first = deaths[-1] if isinstance(deaths[-1], dict) else {}
    reason = str(table.get("x-first-death-reason") or first.get("reason") or "rejected")
    queue = str(table.get("x-first-death-queue") or first.get("queue") or "")
    origin = table.get(ORIGIN)
    topic = (
        _bytes(origin).decode()
        if origin is not None
        else str(table.get("x-first-death-exchange") or first.get("exchange") or "")
    )
    out: dict[str, bytes] = {DLT + "original-topic": topic.encode()}
    if topic and queue.startswith(topic + "."):
        out[DLT + "original-consumer-group"] = queue[len(topic) + 1 :].encode()
    if ts is not None:
        out[DLT + "original-timestamp"] = ts.to_bytes(8, "big", signed=True)
    offset = table.get(OFFSET)
    if offset is not None:
        out[DLT + "original-offset"] = int(offset).to_bytes(8, "big", signed=True)
        out[DLT + "original-partition"] = (0).to_bytes(4, "big", signed=True)
    fqcn, message = _REASONS.get(reason, ("anymq.DeadLettered", reason))
    out[DLT + "exception-fqcn"] = fqcn.encode()
    out[DLT + "exception-message"] = f"{message} (RabbitMQ x-death reason {reason!r})".encode()
    return out
