"""Serializers: JSON in the box, clear errors for values that are not bytes."""

from __future__ import annotations

import pytest

import anymq
from anymq.serializers import JsonSerializer, StrSerializer, resolve


def test_json_roundtrip_keeps_unicode_compact() -> None:
    s = JsonSerializer()
    data = s.dumps({"name": "Zoë", "n": [1, 2]})
    assert data == '{"name":"Zoë","n":[1,2]}'.encode()
    assert s.loads(data) == {"name": "Zoë", "n": [1, 2]}


def test_json_errors_are_serialization_errors() -> None:
    with pytest.raises(anymq.SerializationError, match="JSON"):
        JsonSerializer().dumps({1, 2})
    with pytest.raises(anymq.SerializationError, match="not valid JSON"):
        JsonSerializer().loads(b"{nope")
    assert issubclass(anymq.SerializationError, TypeError)


def test_str_serializer_refuses_non_str() -> None:
    with pytest.raises(anymq.SerializationError):
        StrSerializer().dumps(b"bytes")


def test_resolve_by_name_object_or_none() -> None:
    assert isinstance(resolve("json"), JsonSerializer)
    custom = StrSerializer()
    assert resolve(custom) is custom
    assert resolve(None) is None
    with pytest.raises(anymq.ConfigError, match="unknown serializer 'yaml'"):
        resolve("yaml")


@pytest.mark.anymq
async def test_undecodable_message_raises_with_the_message_attached() -> None:
    async with anymq.connect("memory://ser") as broker:
        await broker.create_topic("t")
        async with broker.consumer("t", "g", serializer="json") as consumer:
            async with broker.producer() as producer:
                await producer.send("t", b"{broken")
            with pytest.raises(anymq.SerializationError) as info:
                await consumer.receive(timeout=1)
            bad = info.value.message  # type: ignore[attr-defined]
            assert bad.body == b"{broken"
            await bad.nack(requeue=False)
