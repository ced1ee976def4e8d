"""Names and headers on the wire: topic <-> stream and subjects, group <-> durable consumer,
key and headers <-> NATS headers.

A topic is a stream whose subjects are ``<topic>.<partition>``; stream and consumer names may
not contain '.', so a topic's or group's '.' becomes '~' there (a character the name rule
refuses, so the mapping is one to one and reversible). NATS header names are tokens and
values are stripped text, so anymq's headers (any UTF-8 name, any bytes) are percent-encoded:
names outside the token set and values outside printable ASCII, '%' in both, so text
headers stay readable to other NATS clients and every header round-trips exactly.
"""

from __future__ import annotations

import string
from urllib.parse import quote, quote_from_bytes, unquote, unquote_to_bytes

from anymq.features import NameRule

NAME_RULE = NameRule(
    pattern=r"(?=.{1,200}\Z)[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*",
    description=(
        "1 to 200 characters from A-Z, a-z, 0-9, '_', '-' and '.' (no leading, trailing or "
        "doubled '.': a topic's '.' separates NATS subject tokens)"
    ),
)
KEY = "x-anymq-key"
_NAME_SAFE = "!#$&'*+-.^_`|~"  # RFC 7230 token characters besides letters and digits, not '%'
_VALUE_SAFE = "".join(c for c in string.punctuation if c != "%")


def stream_name(topic: str) -> str:
    return topic.replace(".", "~")


def topic_name(stream: str) -> str:
    return stream.replace("~", ".")


durable_name = stream_name
group_name = topic_name


def partition_durable(group: str, partition: int) -> str:
    """The durable consumer of one partition of a group: ``<group>_<partition>``."""
    return f"{durable_name(group)}_{partition}"


def group_of(durable: str) -> str | None:
    """The group a partition's durable consumer belongs to (None: not one of anymq's)."""
    group, _, partition = durable.rpartition("_")
    return group_name(group) if group and partition.isdigit() else None


def subjects(topic: str, partitions: int) -> list[str]:
    return [f"{topic}.{p}" for p in range(partitions)]


def encode_headers(key: bytes | None, headers: dict[str, bytes] | None) -> dict[str, str] | None:
    """NATS headers for an anymq key and headers (None when there are none)."""
    if key is None and not headers:
        return None
    out = {}
    if key is not None:
        out[KEY] = quote_from_bytes(key, _VALUE_SAFE)
    for name, value in (headers or {}).items():
        wire = quote(name, _NAME_SAFE)
        if wire[:5].lower() == "nats-":  # JetStream acts on Nats-* headers: keep it off them
            wire = f"%{ord(wire[0]):02X}{wire[1:]}"
        out[wire] = quote_from_bytes(value, _VALUE_SAFE)
    return out


def decode_headers(wire: dict[str, str] | None) -> tuple[bytes | None, dict[str, bytes]]:
    """The key and headers of a received message (a plain NATS message has neither)."""
    if not wire:
        return None, {}
    key = None
    out = {}
    for name, value in wire.items():
        if name == KEY:
            key = unquote_to_bytes(value)
        elif not name.startswith("Nats-"):  # the server's own (Nats-Msg-Id, ...)
            out[unquote(name)] = unquote_to_bytes(value)
    return key, out
