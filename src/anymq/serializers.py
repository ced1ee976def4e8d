"""Turning application values into bytes and back.

Values are bytes on the wire. A producer or consumer given ``serializer="json"`` (or any
object with ``dumps``/``loads``) converts for you; without one, a non-bytes value raises
SerializationError instead of being guessed at.
"""

from __future__ import annotations

import json
from typing import Any, Protocol, runtime_checkable

from anymq.errors import ConfigError, SerializationError


@runtime_checkable
class Serializer(Protocol):
    """Converts values to bytes and back."""

    def dumps(self, value: Any) -> bytes: ...

    def loads(self, data: bytes) -> Any: ...


class JsonSerializer:
    """UTF-8 JSON, compact separators; ``default`` handles types json does not know."""

    def __init__(self, *, default: Any = None) -> None:
        self._encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=default)

    def dumps(self, value: Any) -> bytes:
        try:
            return self._encoder.encode(value).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise SerializationError(
                f"cannot encode {type(value).__name__} as JSON: {exc}"
            ) from exc

    def loads(self, data: bytes) -> Any:
        try:
            return json.loads(data)
        except ValueError as exc:
            raise SerializationError(f"message body is not valid JSON: {exc}") from exc


class StrSerializer:
    """UTF-8 text."""

    def dumps(self, value: Any) -> bytes:
        if not isinstance(value, str):
            raise SerializationError(f"StrSerializer needs str values, got {type(value).__name__}")
        return value.encode("utf-8")

    def loads(self, data: bytes) -> Any:
        return data.decode("utf-8")


def resolve(serializer: str | Serializer | None) -> Serializer | None:
    """Accept a name from the registry, a Serializer object, or None."""
    if serializer is None or isinstance(serializer, Serializer):
        return serializer
    if isinstance(serializer, str):
        from anymq.plugins import serializers

        known = serializers()
        if serializer not in known:
            raise ConfigError(
                f"unknown serializer {serializer!r}; use one of {sorted(known)} or an object "
                "with dumps()/loads()"
            )
        return known[serializer]()
    raise ConfigError(
        f"serializer must be a name or an object with dumps()/loads(), got {serializer!r}"
    )


def not_bytes(value: Any) -> SerializationError:
    """The error for a non-bytes value sent without a serializer."""
    return SerializationError(
        f"message value must be bytes, got {type(value).__name__}; encode it first "
        "(e.g. value.encode()) or create the producer with serializer='json'"
    )
