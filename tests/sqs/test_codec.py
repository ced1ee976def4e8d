"""The attribute codec: lossless for any bytes, never over the service limit at max size."""

from __future__ import annotations

import pytest

from anymq_sqs import codec
from anymq_sqs.options import SNS_LIMIT, SQS_LIMIT

pytestmark = pytest.mark.sqs


def _roundtrip(
    value: bytes, key: bytes | None, headers: dict[str, bytes], *, binary: bool
) -> tuple[bytes, bytes | None, dict[str, bytes]]:
    body, attrs = codec.encode(value, key, headers, binary=binary)
    assert body, "SQS refuses empty bodies"
    assert len(attrs) <= codec.MAX_ATTRIBUTES
    for name, attr in attrs.items():
        assert codec.attribute_name_ok(name) or name.startswith(codec.INTERNAL)
        assert attr.get("StringValue", attr.get("BinaryValue")), "empty attribute value"
        if not binary:
            assert "BinaryValue" not in attr, "Binary attribute on the SNS path"
    # what comes back from SQS: Binary values as bytes
    return codec.decode(body, attrs)


@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize(
    ("value", "key"),
    [
        (b"", None),
        (b"", b""),
        (b"plain text", b"k"),
        (b"\x00\x01\xfe\xff", b"\x00\xff"),
        ("ünïcødé ✓ 日本".encode(), "clé".encode()),
        (b"carriage\r\nreturn", b"\r"),
        (b"\xed\xa0\x80 surrogate", None),
    ],
)
def test_bodies_and_keys_roundtrip(value: bytes, key: bytes | None, binary: bool) -> None:
    assert _roundtrip(value, key, {}, binary=binary) == (value, key, {})


@pytest.mark.parametrize("binary", [True, False])
def test_more_than_ten_headers_are_packed_not_lost(binary: bool) -> None:
    headers = {f"h{i}": b"v%d" % i for i in range(25)}
    headers |= {
        "empty": b"",
        "bin": b"\x00\xff",
        "has space": b"x",
        "AWS.reserved": b"y",
        "anymq.key": b"not the key",
        "ünï": "✓".encode(),
        "trailing.": b"z",
    }
    value, key, back = _roundtrip(b"body", b"key", headers, binary=binary)
    assert (value, key) == (b"body", b"key")
    assert back == headers


def test_ten_plain_headers_need_no_pack() -> None:
    headers = {f"h{i}": b"v" for i in range(10)}
    _, attrs = codec.encode(b"body", None, headers, binary=False)
    assert codec.PACK not in attrs
    assert len(attrs) == 10


@pytest.mark.parametrize("limit", [SNS_LIMIT, SQS_LIMIT])
@pytest.mark.parametrize("binary", [True, False])
def test_worst_case_at_max_size_fits_the_service_limit(limit: int, binary: bool) -> None:
    """The size anymq accepts, spent in the most expensive ways, still fits on the wire."""
    size = codec.max_message_bytes(limit)
    worst_body = bytes(range(256)) * (size // 256 + 1)
    cases = []
    cases.append((worst_body[:size], None, {}))
    cases.append((worst_body[: size - 3], b"\xff\x00\xfe", {}))
    many = {f"{i:02x}": b"" for i in range(codec.MAX_HEADERS)}
    spent = sum(len(k) for k in many)
    cases.append((worst_body[: size - spent], None, many))
    half = (size - 10) // 2
    cases.append((worst_body[:half], None, {"\u00e9": worst_body[: size - half - 1]}))
    for value, key, headers in cases:
        counted = len(value) + len(key or b"") + sum(len(k) + len(v) for k, v in headers.items())
        assert counted <= size
        body, attrs = codec.encode(value, key, headers, binary=binary)
        assert codec.wire_size(body, attrs) <= limit
        assert codec.decode(body, attrs) == (value, key, headers)
