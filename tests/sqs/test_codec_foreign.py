"""Messages whose anymq.* attributes another client got wrong are still delivered (issue 11,
defect 3): decoding never raises, so nothing can poison a consumer."""

from __future__ import annotations

import base64

import pytest

from anymq_sqs import codec

pytestmark = pytest.mark.sqs


def _text(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}


def test_a_body_marked_base64_that_is_not_is_delivered_as_text() -> None:
    value, key, headers = codec.decode("not base64!", {codec.BODY: _text("base64")})
    assert value == b"not base64!"
    assert key is None
    assert headers == {codec.BODY: b"base64"}


@pytest.mark.parametrize(
    "attribute",
    [
        _text("%%% not base64 %%%"),
        _text(base64.b64encode(b"\x09garbage").decode()),  # unknown pack version
        {"DataType": "Binary", "BinaryValue": b"\x01\x01\xff"},  # key length past the end
    ],
)
def test_an_unreadable_pack_is_handed_over_as_a_header(attribute: dict[str, object]) -> None:
    value, key, headers = codec.decode("body", {codec.PACK: attribute, "trace": _text("t1")})
    assert value == b"body"
    assert key is None
    assert headers["trace"] == b"t1"
    assert codec.PACK in headers


def test_anymq_written_messages_still_decode_exactly() -> None:
    headers = {f"h{i}": b"\x00" * i for i in range(1, 15)}
    body, attrs = codec.encode(b"\xff\x00", b"\xfe", headers, binary=False)
    assert codec.decode(body, attrs) == (b"\xff\x00", b"\xfe", headers)
