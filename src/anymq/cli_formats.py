"""The data formats of ``anymq consume --format`` and ``anymq produce --format``.

JSON lines carry bytes reversibly: a key, value or header value that is valid UTF-8 is a
JSON string; one that is not is base64, and ``key_encoding`` / ``value_encoding`` /
``headers_encoding`` say ``"base64"`` (for headers: all values of that message). So what
``consume --format json`` writes, ``produce --format json`` reads back to the same bytes.

Templates (``'{key}\\t{value}'``) write the fields' bytes as they are in a pipe; on a
terminal the fields are shown escaped (:func:`anymq.cli_io.printable`), like every other
view of message data, so a value cannot drive the terminal.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import string
from collections.abc import Callable
from typing import Any

from anymq.cli_io import printable
from anymq.errors import ConfigError
from anymq.message import Message, Received

FIELDS = (
    "topic",
    "partition",
    "offset",
    "key",
    "value",
    "headers",
    "timestamp",
    "delivery_count",
)
"""What a consumed message shows, in JSON and in templates; timestamp is epoch ms."""


class BadLine(ValueError):
    """An input line that cannot become a message (produce stops there, exit 1)."""


def _text(data: bytes) -> str | None:
    try:
        return data.decode()
    except UnicodeDecodeError:
        return None


def record(msg: Received) -> dict[str, Any]:
    """``msg`` as a JSON-ready dict (see the module docstring for the encodings)."""
    out: dict[str, Any] = {
        "topic": msg.topic,
        "partition": msg.partition,
        "offset": msg.offset,
        "key": None,
        "headers": {},
        "value": None,
        "timestamp": msg.timestamp_ms,
        "delivery_count": msg.delivery_count,
    }
    if msg.key is not None:
        _put(out, "key", msg.key)
    _put(out, "value", msg.body)
    headers = msg.headers
    texts = {name: _text(value) for name, value in headers.items()}
    if all(text is not None for text in texts.values()):
        out["headers"] = texts
    else:
        out["headers"] = {name: base64.b64encode(v).decode() for name, v in headers.items()}
        out["headers_encoding"] = "base64"
    return out


def _put(out: dict[str, Any], field: str, data: bytes) -> None:
    text = _text(data)
    if text is None:
        out[field] = base64.b64encode(data).decode()
        out[f"{field}_encoding"] = "base64"
    else:
        out[field] = text


def json_line(msg: Received, ascii_only: bool) -> bytes:
    """One compact JSON line; ``ascii_only`` (on a terminal) escapes everything outside
    printable ASCII, so control and bidi characters show as ``\\uXXXX``."""
    text = json.dumps(record(msg), ensure_ascii=ascii_only, separators=(",", ":"))
    return text.encode() + b"\n"


def message_from_json(
    line: bytes, headers: dict[str, bytes] | None = None, partition: int | None = None
) -> Message:
    """A JSON line (as ``consume --format json`` writes) as a message to send. Only key,
    value and headers are read: where it goes is the command line's choice (``partition``);
    ``headers`` are added to the line's own (which win on a clash)."""
    try:
        data = json.loads(line)
    except ValueError as exc:
        raise BadLine(f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise BadLine(f"expected a JSON object with a 'value', got {type(data).__name__}")
    if "value" not in data:
        raise BadLine("the JSON object has no 'value'")
    value = _bytes("value", data["value"], data.get("value_encoding"))
    key = data.get("key")
    key = None if key is None else _bytes("key", key, data.get("key_encoding"))
    given = data.get("headers") or {}
    if not isinstance(given, dict):
        raise BadLine(f"'headers' must be an object of name: value, got {json.dumps(given)}")
    coding = data.get("headers_encoding")
    own = {str(n): _bytes(f"header {n!r}", v, coding) for n, v in given.items()}
    return Message(value, key=key, headers={**(headers or {}), **own} or None, partition=partition)


def _bytes(what: str, value: Any, encoding: Any) -> bytes:
    if not isinstance(value, str):
        raise BadLine(f"{what} must be a JSON string, got {json.dumps(value)}")
    if encoding is None:
        return value.encode("utf-8", "surrogateescape")
    if encoding != "base64":
        raise BadLine(f"unknown encoding {encoding!r} for {what}; only 'base64' is known")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise BadLine(f"{what} is not valid base64 ({exc})") from None


_ESCAPE = re.compile(r"\\(.)")
_ESCAPED = {"t": "\t", "n": "\n", "r": "\r", "0": "\0", "\\": "\\"}


def template(text: str) -> Callable[[Received, bool], bytes]:
    """A ``--format`` template as a function of (message, on a terminal) -> output line.

    ``\\t``, ``\\n``, ``\\r``, ``\\0`` and ``\\\\`` in the template stand for those characters
    (a shell passes them literally inside quotes). Unknown fields or a malformed template
    are a ConfigError here, before anything is consumed.
    """
    fmt = _ESCAPE.sub(lambda m: _ESCAPED.get(m[1], m[0]), text)
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(fmt) if name is not None]
    except ValueError as exc:
        raise ConfigError(f"--format template {text!r} is malformed: {exc}") from None
    unknown = [n for n in names if n not in FIELDS]
    if unknown or not names:
        raise ConfigError(
            f"--format must be 'value', 'json' or a template of {{fields}} from "
            f"{', '.join(FIELDS)}; got {text!r}"
        )
    sample = dict.fromkeys(FIELDS, "")
    try:
        fmt.format(**sample)
    except (ValueError, IndexError, KeyError) as exc:
        raise ConfigError(f"--format template {text!r} is malformed: {exc}") from None

    def render(msg: Received, terminal: bool) -> bytes:
        # on a terminal the fields are already escaped; the template's own text is the user's
        return fmt.format(**_fields(msg, terminal)).encode("utf-8", "surrogateescape") + b"\n"

    return render


def _fields(msg: Received, terminal: bool) -> dict[str, Any]:
    def show(data: bytes) -> str:
        if terminal:  # invalid bytes as \xNN, control characters escaped
            return printable(data.decode(errors="backslashreplace"))
        return data.decode("utf-8", "surrogateescape")

    headers = {name: _text(v) or base64.b64encode(v).decode() for name, v in msg.headers.items()}
    shown_headers = json.dumps(headers, ensure_ascii=terminal, separators=(",", ":"))
    return {
        "topic": msg.topic,
        "partition": "" if msg.partition is None else msg.partition,
        "offset": "" if msg.offset is None else msg.offset,
        "key": "" if msg.key is None else show(msg.key),
        "value": show(msg.body),
        "headers": shown_headers,
        "timestamp": "" if msg.timestamp_ms is None else msg.timestamp_ms,
        "delivery_count": msg.delivery_count,
    }
