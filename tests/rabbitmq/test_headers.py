"""RabbitMQ key and headers: the header-frame limit, reserved names, over-long names, and
internal headers that a non-anymq client got wrong (issue 11: defects 1, 3, 11, 14)."""

from __future__ import annotations

import asyncio
import time
import uuid

import aio_pika
import pytest
from pamqp import commands as spec

import anymq
from anymq.backend import Outgoing
from anymq.deadletter import dead_letter_headers
from anymq_rabbitmq import headers as hdr
from tests.rabbitmq.helpers import with_query

pytestmark = [pytest.mark.rabbitmq, pytest.mark.anymq]

MODES = ("classic", "stream")
DEATH_FIELDS = ("queue", "exchange")


def _name(label: str) -> str:
    return f"anymq-rmq-{label}-{uuid.uuid4().hex[:8]}"


async def _collect(
    consumer: anymq.Consumer, count: int, *, ack: bool = False
) -> list[anymq.Received]:
    got: list[anymq.Received] = []
    deadline = asyncio.get_running_loop().time() + 15
    while len(got) < count and asyncio.get_running_loop().time() < deadline:
        batch = await consumer.receive(count - len(got), 1)
        for msg in batch:
            if ack:
                await msg.ack()
        got.extend(batch)
    return got


def test_metadata_at_the_limit_fits_the_frame_with_everything_rabbitmq_and_anymq_add() -> None:
    """The declared key + headers limit leaves room for the worst case of what is added:
    properties, x-anymq-*, a stream copy's offsets, dead-letter headers and x-death."""
    rule = hdr.rule(hdr.DEFAULT_FRAME_MAX)
    limit = rule.max_metadata_bytes
    assert limit is not None
    headers = {f"h{i}": b"v" * 10 for i in range(50)}
    key = b"k" * (limit - rule.size(None, headers))
    assert rule.size(key, headers) == limit
    longest = "n" * 255  # queue / exchange names
    topic, group = "t" * 200, "g" * 200
    headers = dead_letter_headers(
        headers,
        topic=topic,
        partition=0,
        offset=2**62,
        timestamp_ms=2**62,
        group=group,
        delivery_count=2**31,
        reason="delivery limit of 1000000 reached",
    )
    table = hdr.encode(headers, key, 2**62)
    table.update(
        {
            hdr.OFFSET: 2**62,
            hdr.ORIGIN: topic,
            "x-anymq-origin-offset": 2**62,
            hdr.STREAM_OFFSET: 2**62,
            hdr.DELIVERY_COUNT: 2**62,
            "x-death": [
                {
                    "count": 2**62,
                    "reason": "delivery_limit",
                    "queue": longest,
                    "time": 2**62,
                    "exchange": longest,
                    "routing-keys": [longest],
                }
            ]
            * 2,
            **{f"x-{w}-death-{f}": longest for w in ("first", "last") for f in DEATH_FIELDS},
            "x-first-death-reason": "delivery_limit",
            "x-last-death-reason": "delivery_limit",
        }
    )
    props = spec.Basic.Properties(
        headers=table, delivery_mode=2, message_id="f" * 16 + "-" + "9" * 20, expiration="9" * 20
    )
    size = hdr.header_frame_size(props, 2**40)
    assert size <= hdr.DEFAULT_FRAME_MAX, f"{size} bytes do not fit frame_max"
    assert hdr.rule(0).max_metadata_bytes is None
    assert hdr.rule(4096).max_metadata_bytes == 2048


async def test_key_or_headers_over_the_header_frame_fail_fast_and_spare_others(
    rabbitmq_url: str,
) -> None:
    """A 200 KiB key fits the 16 MiB message limit but not AMQP's 128 KiB header frame: it
    must be refused before sending, not close the shared connection again and again."""
    topic = _name("frame")
    async with anymq.connect(rabbitmq_url, publish_timeout=10) as broker:
        await broker.create_topic(topic)
        try:
            async with (
                broker.consumer(topic, "work", prefetch=10) as consumer,
                broker.producer() as producer,
            ):
                for i in range(3):
                    await producer.send(topic, b"held-%d" % i)
                held = await _collect(consumer, 3)
                assert len(held) == 3
                started = time.monotonic()
                with pytest.raises(anymq.MessageTooLarge, match="header frame") as info:
                    await producer.send(topic, b"v", key=b"k" * 200_000)
                assert "frame_max" in str(info.value)
                with pytest.raises(anymq.MessageTooLarge, match="header frame"):
                    await producer.send(topic, b"v", headers={"big": "x" * 140_000})
                with pytest.raises(anymq.MessageTooLarge, match="message 1 of the batch"):
                    await producer.send_batch(
                        topic, [anymq.Message(b"ok"), anymq.Message(b"v", key=b"k" * 200_000)]
                    )
                assert time.monotonic() - started < 2
                for msg in held:  # the consumer's channel survived: its acks still count
                    await msg.ack()
                await producer.send(topic, b"after")
                [after] = await consumer.receive(1, 10)
                assert after.value == b"after"
                assert after.delivery_count == 1
                assert await consumer.receive(10, 0.5) == [], "held messages were redelivered"
        finally:
            await broker.delete_topic(topic)


async def test_a_frame_error_is_not_retried_until_the_publish_timeout(rabbitmq_url: str) -> None:
    """Defence in depth: a header frame the server refuses (here sent past the checks,
    straight to the driver) fails the send at once instead of looping for publish_timeout."""
    topic = _name("noretry")
    async with anymq.connect(rabbitmq_url, publish_timeout=20) as broker:
        await broker.create_topic(topic)
        try:
            async with broker.producer() as producer:
                started = time.monotonic()
                key = b"k" * 200_000
                with pytest.raises((anymq.MessageTooLarge, anymq.PublishError)):
                    await producer.driver.send(topic, Outgoing(b"v", key, None, size=1 + len(key)))
                assert time.monotonic() - started < 5, "the frame error was retried"
                receipt = await producer.send(topic, b"still works")
                assert receipt.topic == topic
        finally:
            await broker.delete_topic(topic)


async def test_internal_and_broker_header_names_are_refused(rabbitmq_url: str) -> None:
    topic = _name("reserved")
    async with anymq.connect(rabbitmq_url) as broker:
        await broker.create_topic(topic)
        try:
            async with (
                broker.consumer(topic, "work") as consumer,
                broker.producer() as producer,
            ):
                for name in ("x-anymq-ts", "x-anymq-key", "x-death", "x-delivery-count"):
                    with pytest.raises(anymq.ConfigError, match="reserved") as info:
                        await producer.send(topic, b"v", key=b"real", headers={name: "forged"})
                    assert name in str(info.value)
                await producer.send(topic, b"sentinel", key=b"real", headers={"x-mine": "ok"})
                got = await consumer.receive(10, 10)
                got += await consumer.receive(10, 0.5)
            assert [(m.value, m.key, m.headers) for m in got] == [
                (b"sentinel", b"real", {"x-mine": b"ok"})
            ]
        finally:
            await broker.delete_topic(topic)


async def test_header_names_over_128_bytes_are_refused_not_cut(rabbitmq_url: str) -> None:
    topic = _name("longname")
    longest = "é" * 64  # 128 bytes
    async with anymq.connect(rabbitmq_url) as broker:
        await broker.create_topic(topic)
        try:
            async with (
                broker.consumer(topic, "work") as consumer,
                broker.producer() as producer,
            ):
                with pytest.raises(anymq.ConfigError, match="128 bytes"):
                    await producer.send(
                        topic, b"v", headers={"a" * 128 + "1": "1", "a" * 128 + "2": "2"}
                    )
                with pytest.raises(anymq.ConfigError, match="128 bytes"):
                    await producer.send(topic, b"v", headers={longest + "e": "1"})
                await producer.send(topic, b"ok", headers={longest: "1"})
                got = await consumer.receive(10, 10)
                got += await consumer.receive(10, 0.5)
            assert [(m.value, m.headers) for m in got] == [(b"ok", {longest: b"1"})]
        finally:
            await broker.delete_topic(topic)


async def test_lone_surrogates_are_refused_with_an_anymq_error(rabbitmq_url: str) -> None:
    topic = _name("surrogate")
    async with anymq.connect(rabbitmq_url) as broker:
        await broker.create_topic(topic)
        try:
            async with broker.producer() as producer:
                with pytest.raises(anymq.SerializationError, match="key"):
                    await producer.send(topic, b"v", key="\ud800")
                with pytest.raises(anymq.ConfigError, match="header name"):
                    await producer.send(topic, b"v", headers={"bad\ud800": "v"})
        finally:
            await broker.delete_topic(topic)


@pytest.mark.parametrize("mode", MODES)
async def test_malformed_internal_headers_from_other_clients_do_not_poison(
    rabbitmq_url: str, mode: str
) -> None:
    """A raw AMQP client may send x-anymq-* headers anymq did not write: the consumer still
    delivers the message (timestamp falls back to the AMQP property, or None) and goes on."""
    topic = _name(f"poison{mode}")
    url = with_query(rabbitmq_url, mode=mode)
    async with anymq.connect(url) as broker:
        await broker.create_topic(topic)
        try:
            async with broker.consumer(topic, "work", start="latest") as consumer:
                raw = await aio_pika.connect(rabbitmq_url)
                try:
                    channel = await raw.channel()
                    exchange = await channel.get_exchange(topic, ensure=False)
                    await exchange.publish(
                        aio_pika.Message(
                            b"raw",
                            headers={
                                "x-anymq-ts": "abc",
                                "x-anymq-key": {"not": "bytes"},
                                "x-anymq-offset": "zz",
                                "trace": "t1",
                            },
                        ),
                        routing_key=topic,
                    )
                finally:
                    await raw.close()
                async with broker.producer() as producer:
                    await producer.send(topic, b"good", key=b"k")
                got = await _collect(consumer, 2, ack=True)
            assert [m.value for m in got] == [b"raw", b"good"]
            bad, good = got
            assert bad.timestamp_ms is None or isinstance(bad.timestamp_ms, int)
            assert bad.headers == {"trace": b"t1"}
            assert good.key == b"k"
            assert good.timestamp_ms is not None
        finally:
            await broker.delete_topic(topic)
