"""Typed payloads: how a body becomes the handler's first argument, and a result a body.

The decoder is chosen once, at registration, from the first parameter's annotation, so a
type that cannot be decoded into is a ConfigError before anything runs, and decoding a
message costs one call. pydantic and msgspec are never imported here: a model class in an
annotation means its library is already imported, so they are looked up in ``sys.modules``
and cost nothing when unused.
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from collections.abc import Callable
from typing import Any

from anymq.errors import ConfigError, SerializationError
from anymq.serializers import JsonSerializer, Serializer

Decoder = Callable[[bytes], Any]
Encoder = Callable[[Any], bytes]

#: Types checked with isinstance after the serializer's ``loads`` (what JSON yields).
PLAIN: tuple[type, ...] = (str, int, float, bool, dict, list)
SUPPORTED = (
    "a dataclass, a pydantic model, a msgspec Struct, bytes (the raw body), "
    "str, int, float, bool, dict or list, or no annotation"
)


def _library(tp: object, module: str, base: str) -> Any:
    """``module.base`` if ``tp`` is a subclass of it (the library is already imported)."""
    lib = sys.modules.get(module)
    cls = getattr(lib, base, None) if lib is not None else None
    if cls is not None and isinstance(tp, type) and issubclass(tp, cls):
        return lib
    return None


def raw_body(body: bytes) -> bytes:
    """The decoder of a payload that is the body itself (the runner skips the call)."""
    return body


def decoder(tp: Any, serializer: Serializer | None, where: str) -> Decoder:
    """The function turning a body into a value of ``tp`` (``typing.Any`` for none)."""
    if tp is bytes:
        return raw_body
    if serializer is None:
        if tp is Any or tp is object:
            return raw_body
        raise ConfigError(
            f"{where}: the payload is annotated {_name(tp)} but the handler has no "
            "serializer; pass serializer='json' (or another), or annotate it bytes"
        )
    loads = serializer.loads
    if tp is Any or tp is object:
        return loads
    json = isinstance(serializer, JsonSerializer)
    if _library(tp, "pydantic", "BaseModel") is not None:
        model: Any = tp
        return model.model_validate_json if json else lambda body: model.model_validate(loads(body))
    if (msgspec := _library(tp, "msgspec", "Struct")) is not None:
        struct: Any = tp
        if json:
            fast = msgspec.json.Decoder(struct)
            return typing.cast(Decoder, fast.decode)
        return lambda body: msgspec.convert(loads(body), struct)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        build = _dataclass(tp, where)
        return lambda body: build(loads(body))
    check = _plain(tp)
    if check is None:
        raise ConfigError(f"{where}: cannot decode a payload into {_name(tp)}; use {SUPPORTED}")

    def plain(body: bytes) -> Any:
        return check(loads(body))

    return plain


def _name(tp: Any) -> str:
    return getattr(tp, "__qualname__", None) or repr(tp)


def _plain(tp: Any) -> Callable[[Any], Any] | None:
    """A check for str/int/.../list (or ``list[X]``/``dict[K, V]``: the container only)."""
    cls = typing.get_origin(tp) or tp
    if cls not in PLAIN:
        return None

    def check(value: Any) -> Any:
        ok = isinstance(value, cls) and not (cls is int and isinstance(value, bool))
        if not ok and cls is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not ok:
            raise SerializationError(f"expected {_name(cls)}, got {type(value).__name__}")
        return value

    return check


def _field(tp: Any, where: str) -> Callable[[Any], Any]:
    """A converter for one dataclass field: nested dataclasses (also in ``list[...]`` and
    ``X | None``) are built, plain types checked, anything else passed through."""
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _dataclass(tp, where)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            inner = _field(rest[0], where)
            return lambda value: None if value is None else inner(value)
        return _pass
    if origin is list and len(args) == 1:
        item = _field(args[0], where)
        check = _plain(list)
        assert check is not None
        return lambda value: [item(v) for v in check(value)]
    return _plain(tp) or _pass


def _pass(value: Any) -> Any:
    return value


def _dataclass(cls: type, where: str) -> Callable[[Any], Any]:
    """A dataclass built from a mapping: required fields must be there, unknown keys are
    ignored (a producer may add fields before its consumers know them)."""
    try:
        hints = typing.get_type_hints(cls)
    except NameError as exc:
        raise ConfigError(
            f"{where}: cannot resolve the annotations of {cls.__qualname__} ({exc}); "
            "define the types it uses at module level"
        ) from exc
    fields = [f for f in dataclasses.fields(cls) if f.init]
    convert = {f.name: _field(hints.get(f.name, Any), where) for f in fields}
    required = {
        f.name
        for f in fields
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }

    def build(data: Any) -> Any:
        if not isinstance(data, dict):
            raise SerializationError(
                f"{cls.__qualname__} needs an object, got {type(data).__name__}"
            )
        missing = required - data.keys()
        if missing:
            raise SerializationError(
                f"{cls.__qualname__} is missing required field(s) {sorted(missing)}"
            )
        try:
            values = {k: c(data[k]) for k, c in convert.items() if k in data}
        except SerializationError as exc:
            raise SerializationError(f"{cls.__qualname__}: {exc}") from exc
        return cls(**values)

    return build


def to_builtins(value: Any) -> Any:
    """A handler's result as what a serializer takes (dicts, lists, scalars)."""
    if _library(type(value), "pydantic", "BaseModel") is not None:
        return value.model_dump(mode="json")
    if (msgspec := _library(type(value), "msgspec", "Struct")) is not None:
        return msgspec.to_builtins(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def encoder(serializer: Serializer | None) -> Encoder:
    """The function turning a handler's result into a body: bytes are sent as they are,
    models and dataclasses as the serializer's encoding of their fields."""
    dumps = serializer.dumps if serializer is not None else None

    def encode(value: Any) -> bytes:
        if isinstance(value, bytes):
            return value
        if dumps is None:
            raise SerializationError(
                f"publish_to got a {type(value).__name__} from a handler without a "
                "serializer; return bytes or register it with serializer='json'"
            )
        return dumps(to_builtins(value))

    return encode
