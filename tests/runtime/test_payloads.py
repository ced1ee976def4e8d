"""Decoding bodies into the handler's annotation, and encoding results."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pydantic
import pytest

from anymq.errors import SerializationError
from anymq.runtime.payloads import decoder, encoder
from anymq.serializers import JsonSerializer, StrSerializer

JSON = JsonSerializer()


@dataclass
class Line:
    sku: str
    qty: int


@dataclass
class Order:
    id: int
    total: float
    lines: list[Line] = field(default_factory=list)
    note: Line | None = None


class Invoice(pydantic.BaseModel):
    order: int
    amount: float


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


def test_dataclasses_are_built_with_nested_ones_and_checked_fields() -> None:
    decode = decoder(Order, JSON, "h")
    got = decode(body({"id": 1, "total": 2, "lines": [{"sku": "a", "qty": 3}], "extra": 0}))
    assert got == Order(1, 2.0, [Line("a", 3)])
    assert isinstance(got.total, float)
    assert decode(body({"id": 1, "total": 2.5, "note": {"sku": "n", "qty": 1}})).note == Line(
        "n", 1
    )
    with pytest.raises(SerializationError, match=r"missing required field\(s\) \['total'\]"):
        decode(body({"id": 1}))
    with pytest.raises(SerializationError, match=r"Order: expected int, got str"):
        decode(body({"id": "1", "total": 1}))
    with pytest.raises(SerializationError, match=r"Order needs an object, got list"):
        decode(body([1]))
    with pytest.raises(SerializationError, match=r"not valid JSON"):
        decode(b"{")


def test_pydantic_models_validate() -> None:
    decode = decoder(Invoice, JSON, "h")
    assert decode(body({"order": 1, "amount": "2.5"})) == Invoice(order=1, amount=2.5)
    with pytest.raises(pydantic.ValidationError):
        decode(body({"order": "x"}))
    via_loads = decoder(Invoice, StrSerializer(), "h")  # not JSON: validated from loads()
    with pytest.raises(pydantic.ValidationError):
        via_loads(b"{}")


def test_msgspec_structs_decode_where_installed() -> None:
    msgspec = pytest.importorskip("msgspec")

    class Point(msgspec.Struct):  # type: ignore[misc]
        x: int

    assert decoder(Point, JSON, "h")(b'{"x": 1}') == Point(x=1)
    with pytest.raises(msgspec.ValidationError):
        decoder(Point, JSON, "h")(b'{"x": "a"}')
    assert encoder(JSON)(Point(x=2)) == b'{"x":2}'


def test_plain_types_bytes_and_no_annotation() -> None:
    assert decoder(dict[str, Any], JSON, "h")(b'{"a":1}') == {"a": 1}
    with pytest.raises(SerializationError, match=r"expected dict, got list"):
        decoder(dict[str, Any], JSON, "h")(b"[]")
    with pytest.raises(SerializationError, match=r"expected int, got bool"):
        decoder(int, JSON, "h")(b"true")
    assert decoder(bytes, JSON, "h")(b"raw{") == b"raw{"
    assert decoder(Any, JSON, "h")(b"[1]") == [1]
    assert decoder(Any, None, "h")(b"raw") == b"raw"
    assert decoder(str, StrSerializer(), "h")(b"text") == "text"


def test_results_are_encoded_by_the_serializer() -> None:
    encode = encoder(JSON)
    assert encode(Invoice(order=1, amount=2)) == b'{"order":1,"amount":2.0}'
    assert encode(Line("a", 1)) == b'{"sku":"a","qty":1}'
    assert encode({"a": [1]}) == b'{"a":[1]}'
    assert encode(b"as is") == b"as is"
    with pytest.raises(SerializationError, match=r"return bytes or register it with serializer"):
        encoder(None)({"a": 1})
