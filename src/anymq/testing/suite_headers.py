"""Contract: keys and headers within the backend's declared rule arrive intact; the rest is
refused before anything is sent, without hurting the producer or other consumers."""

from __future__ import annotations

import pytest

import anymq
from anymq.testing.context import TestContext
from anymq.testing.ledger import assert_count


class HeaderContract:
    """Key + headers limit, reserved header names, long names, unencodable text."""

    async def test_metadata_over_the_limit_is_refused_and_nobody_is_hurt(
        self, ctx: TestContext
    ) -> None:
        limit = ctx.capabilities.max_metadata_bytes
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            async with (
                broker.consumer(topic, ctx.group(), prefetch=10) as consumer,
                broker.producer() as producer,
            ):
                for i in range(3):
                    await producer.send(topic, b"held-%d" % i)
                held = await ctx.collect(consumer, 3, ack=False)
                assert_count("the consumer", 3, held)
                too_long = [
                    {"key": b"k" * (limit + 1)},
                    {"key": "k" * (limit + 1)},
                    {"headers": {"big": b"x" * limit}},
                    {"key": b"k" * (limit // 2), "headers": {"big": "x" * (limit // 2 + 1)}},
                ]
                for arguments in too_long:
                    with pytest.raises(anymq.MessageTooLarge) as info:
                        await producer.send(topic, b"v", **arguments)  # type: ignore[arg-type]
                    assert str(limit) in str(info.value) or str(
                        ctx.capabilities.max_message_bytes
                    ) in str(info.value)
                with pytest.raises(anymq.MessageTooLarge, match="message 1 of the batch"):
                    await producer.send_batch(
                        topic, [anymq.Message(b"ok"), anymq.Message(b"v", key=b"k" * (limit + 1))]
                    )
                for msg in held:  # the consumer's deliveries are still good to settle
                    await msg.ack()
                await producer.send(topic, b"after", key=b"k")
                got = await ctx.collect(consumer, 1)
                got += await ctx.quiet_receive(consumer)
            assert [(m.value, m.delivery_count) for m in got] == [(b"after", 1)], (
                "a refused message was sent, or held messages were redelivered: expected "
                f"[(b'after', 1)], got {[(m.value, m.delivery_count) for m in got]}"
            )

    async def test_metadata_at_the_limit_arrives_intact(self, ctx: TestContext) -> None:
        rule = ctx.capabilities.headers
        limit = ctx.capabilities.max_metadata_bytes
        headers = {"h-one": b"\x00\xff" * 8, "h-two": "wörds ✓".encode()}
        half = (limit - rule.size(None, headers)) // 2
        headers["h-big"] = bytes(range(256)) * (half // 256) + bytes(half % 256)
        key = b"k" * (limit - rule.size(None, headers))
        assert rule.size(key, headers) == limit
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            async with broker.consumer(topic, ctx.group()) as consumer:
                async with broker.producer() as producer:
                    with pytest.raises(anymq.MessageTooLarge):
                        await producer.send(topic, b"", key=key + b"!", headers=headers)
                    await producer.send(topic, b"", key=key, headers=headers)
                got = await ctx.collect(consumer, 1)
                got += await ctx.quiet_receive(consumer)
            assert_count("the consumer", 1, got)
            assert got[0].key == key, "the key changed on the way"
            assert got[0].headers == headers, "headers changed on the way"

    async def test_reserved_header_names_are_refused(self, ctx: TestContext) -> None:
        rule = ctx.capabilities.headers
        names = sorted(rule.reserved) + [prefix + "probe" for prefix in rule.reserved_prefixes]
        assert "x-anymq-key" in names or rule.reserved_name("x-anymq-key")
        assert not rule.reserved_name("x-user-header")
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            async with broker.consumer(topic, ctx.group()) as consumer:
                async with broker.producer() as producer:
                    for name in names:
                        with pytest.raises(anymq.ConfigError, match="reserved") as info:
                            await producer.send(topic, b"v", key=b"real", headers={name: "forged"})
                        assert repr(name) in str(info.value)
                        bad = anymq.Message(b"v", headers={name: "x"})
                        with pytest.raises(anymq.ConfigError, match="message 1 of the batch"):
                            await producer.send_batch(topic, [anymq.Message(b"ok"), bad])
                    await producer.send(
                        topic, b"sentinel", key=b"real", headers={"x-user-header": "mine"}
                    )
                got = await ctx.collect(consumer, 1)
                got += await ctx.quiet_receive(consumer)
            assert [(m.value, m.key, m.headers) for m in got] == [
                (b"sentinel", b"real", {"x-user-header": b"mine"})
            ], "a refused message was sent, or headers changed"

    async def test_long_header_names_are_kept_or_refused(self, ctx: TestContext) -> None:
        longest = ctx.capabilities.headers.max_name_bytes
        size = longest if longest is not None else 300
        # Multi-byte characters: the limit is in UTF-8 bytes, not characters.
        exact = "é" * (size // 2) + "a" * (size % 2)
        twin = exact[:-1] + "b"  # the same up to its last character: must not collide
        assert len(exact.encode()) == size
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            async with broker.consumer(topic, ctx.group()) as consumer:
                async with broker.producer() as producer:
                    if longest is not None:
                        for name in (exact + "z", "é" * (size // 2 + 1)):
                            with pytest.raises(anymq.ConfigError, match=f"{longest} bytes"):
                                await producer.send(topic, b"cut", headers={name: "1"})
                    await producer.send(topic, b"kept", headers={exact: "1", twin: "2"})
                got = await ctx.collect(consumer, 1)
                got += await ctx.quiet_receive(consumer)
            assert [(m.value, m.headers) for m in got] == [(b"kept", {exact: b"1", twin: b"2"})]

    async def test_unencodable_keys_and_header_names_are_refused(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            async with broker.consumer(topic, ctx.group()) as consumer:
                async with broker.producer() as producer:
                    with pytest.raises(anymq.SerializationError, match="key"):
                        await producer.send(topic, b"v", key="lone \ud800")
                    with pytest.raises(anymq.ConfigError, match="header name"):
                        await producer.send(topic, b"v", headers={"bad\udfff": "v"})
                    with pytest.raises(anymq.SerializationError, match="'h'"):
                        await producer.send(topic, b"v", headers={"h": "bad \ud800"})
                    with pytest.raises(anymq.SerializationError, match="message 1 of the batch"):
                        await producer.send_batch(
                            topic, [anymq.Message(b"ok"), anymq.Message(b"v", key="\ud800")]
                        )
                    await producer.send(topic, b"sentinel", key="ok ✓")
                got = await ctx.collect(consumer, 1)
                got += await ctx.quiet_receive(consumer)
            assert [(m.value, m.key) for m in got] == [(b"sentinel", "ok ✓".encode())]
