"""anymq messages ↔ SQS/SNS bodies and message attributes, losslessly and within the limits.

SQS and SNS carry a text body (XML characters only, never empty) and at most 10 message
attributes whose names follow a rule and whose values are never empty. anymq bodies, keys
and header values are arbitrary bytes, so:

- a body that is not XML-safe UTF-8 text is base64-encoded (``anymq.body=base64``), an empty
  body travels as ``-`` with ``anymq.body=empty``;
- the key travels as ``anymq.key``; headers as attributes of their own name;
- whatever does not fit (an 11th header, a name SQS refuses, an empty value, binary where
  only text can go) is packed into one ``anymq.pack`` attribute, so nothing is ever lost.

Binary attributes go straight to SQS. Through SNS they are packed instead: moto 5.2 stores an
SNS Binary attribute as base64 text and then fails every ReceiveMessage on that queue.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any

INTERNAL = "anymq."
BODY = "anymq.body"
KEY = "anymq.key"
PACK = "anymq.pack"
MAX_ATTRIBUTES = 10
EMPTY_BODY = "-"

_STRING = "String"
_BINARY = "Binary"
_PACK_VERSION = 1

# Characters SQS accepts in bodies and String attributes (XML 1.0), minus \r, which XML
# parsers on the way may turn into \n.
_UNSAFE = re.compile("[^\t\n\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NAME = re.compile(r"[A-Za-z0-9_-](?:[A-Za-z0-9_.-]{0,254}[A-Za-z0-9_-])?")

Attributes = dict[str, dict[str, Any]]


def as_text(value: bytes) -> str | None:
    """``value`` as text SQS takes unchanged, or None if it must be encoded."""
    if not value:
        return None
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if _UNSAFE.search(text) is not None:
        return None
    return text


def attribute_name_ok(name: str) -> bool:
    """A header name SQS and SNS accept as an attribute name (and not one of ours)."""
    if not _NAME.fullmatch(name) or ".." in name:
        return False
    lowered = name.lower()
    return not lowered.startswith(("aws.", "amazon.", INTERNAL))


def _varint(n: int, out: bytearray) -> None:
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def pack(key: bytes | None, headers: list[tuple[str, bytes]]) -> bytes:
    """Version, flags (bit 0: key present), [key], then (name, value) pairs, varint-framed."""
    out = bytearray((_PACK_VERSION, 1 if key is not None else 0))
    if key is not None:
        _varint(len(key), out)
        out += key
    for name, value in headers:
        raw = name.encode("utf-8")
        _varint(len(raw), out)
        out += raw
        _varint(len(value), out)
        out += value
    return bytes(out)


def unpack(data: bytes) -> tuple[bool, bytes | None, dict[str, bytes]]:
    """(key present, key, headers) from :func:`pack`'s output."""
    if not data or data[0] != _PACK_VERSION:
        raise ValueError(f"unknown anymq.pack version {data[:1]!r}")
    has_key = bool(data[1] & 1)
    pos = 2
    key = None
    if has_key:
        n, pos = _read_varint(data, pos)
        key = data[pos : pos + n]
        pos += n
    headers: dict[str, bytes] = {}
    end = len(data)
    while pos < end:
        n, pos = _read_varint(data, pos)
        name = data[pos : pos + n].decode("utf-8")
        pos += n
        n, pos = _read_varint(data, pos)
        headers[name] = data[pos : pos + n]
        pos += n
    return has_key, key, headers


def _text(value: str) -> dict[str, Any]:
    return {"DataType": _STRING, "StringValue": value}


def encode(
    value: bytes,
    key: bytes | None,
    headers: Mapping[str, bytes] | None,
    *,
    binary: bool,
) -> tuple[str, Attributes]:
    """The body text and message attributes of a message (``binary``: Binary attributes OK)."""
    attrs: Attributes = {}
    text = as_text(value)
    if text is not None:
        body = text
    elif value:
        body = base64.b64encode(value).decode("ascii")
        attrs[BODY] = _text("base64")
    else:
        body = EMPTY_BODY
        attrs[BODY] = _text("empty")
    packed_key = False
    if key is not None:
        key_text = as_text(key)
        if key_text is not None:
            attrs[KEY] = _text(key_text)
        elif key and binary:
            attrs[KEY] = {"DataType": _BINARY, "BinaryValue": key}
        else:
            packed_key = True
    if not headers and not packed_key:
        return body, attrs
    direct: list[tuple[str, dict[str, Any], bytes]] = []
    packed: list[tuple[str, bytes]] = []
    for name, hv in (headers or {}).items():
        if attribute_name_ok(name):
            hv_text = as_text(hv)
            if hv_text is not None:
                direct.append((name, _text(hv_text), hv))
                continue
            if hv and binary:
                direct.append((name, {"DataType": _BINARY, "BinaryValue": hv}, hv))
                continue
        packed.append((name, hv))
    free = MAX_ATTRIBUTES - len(attrs)
    if packed or packed_key or len(direct) > free:
        keep = free - 1
        packed.extend((name, hv) for name, _, hv in direct[keep:])
        direct = direct[:keep]
        raw = pack(key if packed_key else None, packed)
        if binary:
            attrs[PACK] = {"DataType": _BINARY, "BinaryValue": raw}
        else:
            attrs[PACK] = _text(base64.b64encode(raw).decode("ascii"))
    for name, attr, _ in direct:
        attrs[name] = attr
    return body, attrs


def wire_size(body: str, attrs: Attributes) -> int:
    """Bytes the service counts against its limit (Binary counted as base64, to be safe)."""
    size = len(body.encode("utf-8")) if not body.isascii() else len(body)
    for name, attr in attrs.items():
        size += len(name) + len(attr["DataType"])
        if "BinaryValue" in attr:
            size += 4 * ((len(attr["BinaryValue"]) + 2) // 3)
        else:
            text = attr["StringValue"]
            size += len(text) if text.isascii() else len(text.encode("utf-8"))
    return size


def _value(attr: Mapping[str, Any]) -> bytes:
    if "BinaryValue" in attr:
        raw = attr["BinaryValue"]
        return raw if isinstance(raw, bytes) else base64.b64decode(raw)
    text = attr.get("StringValue", "")
    return text.encode("utf-8") if isinstance(text, str) else bytes(text)


def decode(
    body: str, attrs: Mapping[str, Mapping[str, Any]] | None
) -> tuple[bytes, bytes | None, dict[str, bytes]]:
    """(value, key, headers) of a received message; internal attributes are stripped.

    Never raises: internal attributes another client got wrong (a body marked base64 that
    is not, an ``anymq.pack`` anymq cannot read) are delivered as plain headers under their
    own names, so the message can still be acked, nacked or dead-lettered.
    """
    if not attrs:
        return body.encode("utf-8"), None, {}
    key: bytes | None = None
    headers: dict[str, bytes] = {}
    enc = None
    packed = None
    for name, attr in attrs.items():
        if name.startswith(INTERNAL):
            if name == BODY:
                enc = attr.get("StringValue")
            elif name == KEY:
                key = _value(attr)
            elif name == PACK:
                packed = attr
            continue
        headers[name] = _value(attr)
    value = body.encode("utf-8")
    if enc == "base64":
        try:
            value = base64.b64decode(body)
        except ValueError:  # not written by anymq: deliver the text, say how it was marked
            headers[BODY] = b"base64"
    elif enc == "empty":
        value = b""
    if packed is not None:
        try:
            raw = (
                _value(packed)
                if "BinaryValue" in packed
                else base64.b64decode(packed.get("StringValue", ""))
            )
            has_key, packed_key, extra = unpack(raw)
        except (ValueError, IndexError):  # not anymq's format: hand it over as it came
            found = packed.get("BinaryValue", packed.get("StringValue", ""))
            headers[PACK] = found.encode("utf-8") if isinstance(found, str) else bytes(found)
        else:
            if has_key:
                key = packed_key
            headers.update(extra)
    return value, key, headers


#: Largest number of headers a message may have (bounds the packing overhead).
MAX_HEADERS = 100
#: Headroom kept for the dead-letter headers added when a message is dead-lettered.
DEAD_LETTER_RESERVE = 1536


def max_message_bytes(service_limit: int, *, reserve: int = 0) -> int:
    """The largest value + key + headers whose encoding stays within ``service_limit``.

    Worst case: everything base64-encoded (4/3), split over body and pack (two paddings),
    the fixed attributes (``anymq.body``, ``anymq.key``, ``anymq.pack`` names and types),
    up to 9 direct headers' type names, and varint framing of every packed header.
    """
    framing = 2 + 3 + (MAX_HEADERS + 10) * 6  # version, flags, key length, name+value lengths
    fixed = (
        len(BODY)
        + len(_STRING)
        + len("base64")
        + len(KEY)
        + len(_BINARY)
        + len(PACK)
        + len(_STRING)
        + (MAX_ATTRIBUTES - 1) * len(_BINARY)
        + 8  # base64 padding of body and pack
    )
    budget = service_limit - fixed - reserve - (4 * framing + 2) // 3
    return budget * 3 // 4
