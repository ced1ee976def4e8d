"""Message properties on the wire and back: anymq headers, key, timestamp, dead-letter info.

AMQP has no message key and only second-resolution timestamps, so anymq carries the key
and a millisecond timestamp in headers of its own (``x-anymq-*``). Everything RabbitMQ or
anymq adds is stripped on receipt, so user headers come back exactly as sent; those names are
therefore reserved (:func:`rule`, refused before sending), and key + headers must fit the
AMQP header frame (``frame_max``), or RabbitMQ closes the whole connection. A message
that RabbitMQ dead-lettered (it has ``x-death``) gets Spring Kafka's ``kafka_dlt-*``
headers instead, the same ones every anymq backend writes, so a dead letter looks alike
whatever the broker.
"""

from __future__ import annotations

import time
from typing import Any

from pamqp import commands as spec
from pamqp import frame as wire
from pamqp.header import ContentHeader

from anymq.deadletter import PREFIX as DLT
from anymq.features import ANYMQ_HEADER_PREFIX, HeaderRule

KEY = "x-anymq-key"
TIMESTAMP = "x-anymq-ts"
OFFSET = "x-anymq-offset"
EPOCH = "x-anymq-epoch"
"""A pump copy's seek generation: each seek of a group's pump starts a new one."""
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

#: Names a user header must not take: RabbitMQ writes or strips these (a user value would
#: be lost or taken for the broker's), and x-anymq-* carries anymq's own metadata.
RESERVED = _STRIPPED
RESERVED_PREFIXES = (ANYMQ_HEADER_PREFIX, "x-first-death-", "x-last-death-")
WHY_RESERVED = (
    "anymq carries the key, timestamp and stream offsets in 'x-anymq-*', and RabbitMQ writes "
    "x-death, x-first-death-*, x-last-death-*, x-delivery-count, x-stream-offset and "
    "x-received-from itself, so a value sent under these names would be lost or misread"
)
#: AMQP field-table names are short strings of at most 128 bytes; the client (pamqp) cuts
#: longer ones, so two long names could silently become one.
MAX_NAME_BYTES = 128
#: Wire bytes per header besides name and value: name length (1), type (1), value length (4).
OVERHEAD = 6
DEFAULT_FRAME_MAX = 131_072
#: Room kept in the header frame for what is added besides the user's key and headers: the
#: frame and property overhead, anymq's x-anymq-ts / key / offset / topic entries (the topic
#: name is up to 200 bytes), dead-letter headers, and RabbitMQ's own x-death,
#: x-first-death-*, x-last-death-*, x-delivery-count and x-stream-offset (queue and
#: exchange names up to 255 bytes each).
FRAME_RESERVE = 8192


def rule(frame_max: int) -> HeaderRule:
    """The header rule for a connection whose negotiated frame_max is ``frame_max``."""
    if frame_max <= 0:  # no frame limit negotiated: only the message limit applies
        limit, why = None, ""
    else:
        limit = max(frame_max - FRAME_RESERVE, frame_max // 2)
        why = (
            f"the key and headers travel in one AMQP header frame, which must fit the "
            f"connection's frame_max of {frame_max} bytes; {frame_max - limit} bytes of it are "
            "kept for anymq's and RabbitMQ's own headers"
        )
    return HeaderRule(
        reserved=RESERVED,
        reserved_prefixes=RESERVED_PREFIXES,
        why_reserved=WHY_RESERVED,
        max_name_bytes=MAX_NAME_BYTES,
        max_metadata_bytes=limit,
        overhead=OVERHEAD,
        metadata_limit=why,
    )


def frame_max_of(connection: Any) -> int:
    """The frame_max a (robust) aio-pika connection negotiated, or the default before that."""
    transport = getattr(connection, "transport", None)
    tune = getattr(getattr(transport, "connection", None), "connection_tune", None)
    value = getattr(tune, "frame_max", None)
    return value if isinstance(value, int) else DEFAULT_FRAME_MAX


def header_frame_size(properties: spec.Basic.Properties, body_size: int) -> int:
    """Exact bytes of the content header frame that carries ``properties``."""
    return len(wire.marshal(ContentHeader(0, body_size, properties), 1))


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


def _millis(value: Any) -> int | None:
    """An x-anymq-ts value as milliseconds, or None when another client wrote something else."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, (str, bytes, bytearray)):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def decode(
    table: dict[str, Any] | None,
) -> tuple[dict[str, bytes], bytes | None, int | None]:
    """User headers, key and millisecond timestamp out of a received header table.

    Never raises: a message from another AMQP client whose x-anymq-* headers are not what
    anymq writes is still delivered (a malformed timestamp counts as none, a key of another
    type becomes its text), so it can be acked, nacked or dead-lettered like any other.
    """
    if not table:
        return {}, None, None
    headers: dict[str, bytes] = {}
    key: bytes | None = None
    ts: int | None = None
    dead = False
    for name, value in table.items():
        if name.startswith("x-"):
            if name == TIMESTAMP:
                ts = _millis(value)
                continue
            if name == KEY:
                key = _bytes(value)
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
        _bytes(origin).decode("utf-8", "replace")
        if origin is not None
        else str(table.get("x-first-death-exchange") or first.get("exchange") or "")
    )
    out: dict[str, bytes] = {DLT + "original-topic": topic.encode()}
    if topic and queue.startswith(topic + "."):
        out[DLT + "original-consumer-group"] = queue[len(topic) + 1 :].encode()
    if ts is not None:
        out[DLT + "original-timestamp"] = ts.to_bytes(8, "big", signed=True)
    offset = table.get(OFFSET)
    if isinstance(offset, int) and not isinstance(offset, bool):
        out[DLT + "original-offset"] = offset.to_bytes(8, "big", signed=True)
        out[DLT + "original-partition"] = (0).to_bytes(4, "big", signed=True)
    fqcn, message = _REASONS.get(reason, ("anymq.DeadLettered", reason))
    out[DLT + "exception-fqcn"] = fqcn.encode()
    out[DLT + "exception-message"] = f"{message} (RabbitMQ x-death reason {reason!r})".encode()
    return out
