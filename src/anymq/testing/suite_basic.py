"""Contract: messages arrive intact, topics are separate, admin calls and errors are clear."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

import anymq
from anymq.features import Feature
from anymq.testing.context import TestContext
from anymq.testing.ledger import Ledger


class BasicContract:
    """Roundtrip, isolation, parallel producers, batches, topic admin and input errors."""

    async def test_roundtrip_binary_and_unicode(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            sent: list[tuple[bytes, bytes | None, dict[str, str | bytes] | None]] = [
                (b"\x00\x01\xfe\xff binary", b"\x00\xffkey", {"x-bin": b"\x00\x01\xff"}),
                ("ünïcødé ✓ 日本".encode(), "clé-✓".encode(), {"x-text": "héllo ✓"}),
                (b"", None, None),
                (b"plain", b"k", {"a": "1", "b": b"2", "content-type": "text/plain"}),
            ]
            async with broker.consumer(topic, ctx.group()) as consumer:
                async with broker.producer() as producer:
                    for value, key, headers in sent:
                        receipt = await producer.send(topic, value, key=key, headers=headers)
                        assert receipt.topic == topic
                ledger = Ledger(f"group {ctx.group()!r}", ordered=True)
                for value, key, _ in sent:
                    ledger.expect(value, key)
                got = await ctx.collect(consumer, len(sent), ledger=ledger)
            ledger.assert_complete()
            by_value = {m.body: m for m in got}
            for value, key, headers in sent:
                msg = by_value[value]
                assert msg.value == value
                assert msg.key == key
                expected = {
                    k: v.encode() if isinstance(v, str) else v for k, v in (headers or {}).items()
                }
                assert msg.headers == expected, f"headers changed: {msg.headers!r}"
                assert msg.topic == topic
                assert msg.delivery_count == 1
                assert msg.timestamp is not None

    async def test_roundtrip_max_size_body(self, ctx: TestContext) -> None:
        limit = ctx.capabilities.max_message_bytes
        key = b"big"
        value = bytes(range(256)) * (limit // 256) + bytes(range(limit % 256))
        value = value[: limit - len(key)]
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            async with broker.consumer(topic, ctx.group()) as consumer:
                async with broker.producer() as producer:
                    await producer.send(topic, value, key=key)
                    with pytest.raises(anymq.MessageTooLarge) as info:
                        await producer.send(topic, value + b"!", key=key)
                    assert str(limit) in str(info.value)
                msg = await ctx.receive_one(consumer, f"the max-size message ({len(value)} bytes)")
                assert msg.value == value, (
                    f"the max-size body ({len(value)} bytes) was expected unchanged; "
                    f"got {len(msg.value)} bytes"
                )
                leaked = await ctx.quiet_receive(consumer)
                assert leaked == [], (
                    f"nothing was expected after the refused oversized send; got {len(leaked)} "
                    f"message(s) of {[len(m.body) for m in leaked]} bytes"
                )

    async def test_topic_isolation(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:
            first = await ctx.topic(broker, "a")
            second = await ctx.topic(broker, "b")
            on_first = Ledger(f"the consumer of topic {first!r}", ordered=True)
            on_second = Ledger(f"the consumer of topic {second!r}", ordered=True)
            async with (
                broker.consumer(first, ctx.group()) as c1,
                broker.consumer(second, ctx.group()) as c2,
                broker.producer() as producer,
            ):
                for i in range(5):
                    await producer.send(first, on_first.expect(b"a%d" % i))
                    await producer.send(second, on_second.expect(b"b%d" % i))
                await ctx.receive_all(c1, on_first)
                await ctx.receive_all(c2, on_second)
            on_first.assert_complete(exactly_once=True)
            on_second.assert_complete(exactly_once=True)

    async def test_parallel_producers_lose_nothing(self, ctx: TestContext) -> None:
        ledger = Ledger(f"group {ctx.group()!r} (4 producers sending at once)")
        producers, each = 4, 50
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker, partitions=ctx.partitions(3))
            async with broker.consumer(topic, ctx.group()) as consumer:

                async def produce(n: int) -> None:
                    async with broker.producer() as producer:
                        for i in range(each):
                            await producer.send(
                                topic, ledger.expect(b"p%d-%d" % (n, i)), key=b"%d" % i
                            )

                await asyncio.gather(*(produce(n) for n in range(producers)))
                await ctx.receive_all(consumer, ledger)
        ctx.observe("parallel_producers.duplicates", ledger.duplicates)
        ledger.assert_complete(exactly_once=ctx.has(Feature.EXACTLY_ONCE))

    async def test_batch_send(self, ctx: TestContext) -> None:
        count = 2 * max(1, min(ctx.capabilities.max_batch, 100)) + 3
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker, partitions=ctx.partitions(2))
            async with broker.consumer(topic, ctx.group()) as consumer:
                async with broker.producer() as producer:
                    batch = [
                        anymq.Message(b"m%d" % i, key=b"k%d" % (i % 7), headers={"i": str(i)})
                        for i in range(count)
                    ]
                    receipts = await producer.send_batch(topic, batch)
                assert len(receipts) == count, (
                    f"send_batch of {count} messages was expected to return {count} receipts; "
                    f"got {len(receipts)}"
                )
                ledger = Ledger(f"group {ctx.group()!r} (one send_batch)", ordered=True)
                for i in range(count):
                    ledger.expect(b"m%d" % i, b"k%d" % (i % 7))
                got = await ctx.receive_all(consumer, ledger)
            ledger.assert_complete(exactly_once=True)
            for msg in got:
                assert msg.headers.get("i") == msg.value[1:], (
                    f"{msg.value!r} was expected with header i={msg.value[1:]!r}; "
                    f"got headers {msg.headers!r}"
                )

    async def test_invalid_batch_sends_nothing(self, ctx: TestContext) -> None:
        limit = ctx.capabilities.max_message_bytes
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            async with broker.consumer(topic, ctx.group()) as consumer:
                async with broker.producer() as producer:
                    good = anymq.Message(b"good")
                    with pytest.raises(anymq.MessageTooLarge, match="message 1 of the batch"):
                        await producer.send_batch(topic, [good, anymq.Message(b"x" * (limit + 1))])
                    with pytest.raises(anymq.SerializationError, match="bytes"):
                        await producer.send_batch(topic, [good, anymq.Message("text")])
                    with pytest.raises(anymq.SerializationError):
                        await producer.send(topic, {"not": "bytes"})
                    with pytest.raises(anymq.SerializationError, match="header"):
                        await producer.send(topic, b"v", headers={"n": 3})  # type: ignore[dict-item]
                    await producer.send(topic, b"sentinel")
                ledger = Ledger("the consumer (only b'sentinel': the refused sends send nothing)")
                ledger.expect(b"sentinel")
                await ctx.receive_all(consumer, ledger)
            ledger.assert_complete(exactly_once=True)

    async def test_json_serializer_roundtrip(self, ctx: TestContext) -> None:
        payload = {"id": 7, "name": "Zoë", "tags": ["a", "b"], "nested": {"ok": True}}
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            async with broker.consumer(topic, ctx.group(), serializer="json") as consumer:
                async with broker.producer(serializer="json") as producer:
                    await producer.send(topic, payload)
                msg = await ctx.receive_one(consumer, "the JSON message")
            assert msg.value == payload
            assert isinstance(msg.body, bytes)

    async def test_create_topic_is_idempotent(self, ctx: TestContext) -> None:
        partitions = ctx.partitions(3)
        async with ctx.broker() as broker:
            name = ctx.name("idem")
            ctx._topics.append(name)
            assert await broker.create_topic(name, partitions=partitions) is True
            assert await broker.create_topic(name, partitions=partitions) is False
            info = await broker.describe_topic(name)
            assert info.name == name
            assert info.partitions == partitions
            assert name in await broker.list_topics()
            await broker.delete_topic(name)
            await ctx.eventually(
                lambda: _missing(broker, name), f"{name} is gone from list_topics()"
            )
            with pytest.raises(anymq.TopicNotFound):
                await broker.describe_topic(name)

    async def test_missing_topic_fails_clearly(self, ctx: TestContext) -> None:
        missing = ctx.name("missing")
        async with ctx.broker() as broker:
            async with broker.producer() as producer:
                with pytest.raises(anymq.TopicNotFound) as info:
                    await producer.send(missing, b"lost?")
            assert missing in str(info.value)
            with pytest.raises(anymq.TopicNotFound):
                async with broker.consumer(missing, ctx.group()):
                    pass
            with pytest.raises(anymq.TopicNotFound):
                await broker.describe_topic(missing)
            with pytest.raises(anymq.TopicNotFound):
                await broker.delete_topic(missing)

    async def test_invalid_names_are_refused_with_the_rule(self, ctx: TestContext) -> None:
        rule = ctx.capabilities.topic_names
        async with ctx.broker() as broker:
            for bad in ("", "has space", "x" * 300, "slash/name"):
                with pytest.raises(anymq.InvalidTopicName) as info:
                    await broker.create_topic(bad)
                assert rule.description in str(info.value)
            with pytest.raises(anymq.InvalidTopicName):
                broker.consumer("ok", group="bad group")
            with pytest.raises(anymq.ConfigError):
                await broker.create_topic(ctx.name("p"), partitions=0)

    async def test_closed_clients_refuse_work(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            producer = broker.producer()
            async with producer:
                await producer.send(topic, b"x")
            await producer.close()  # idempotent
            with pytest.raises(anymq.ClosedError):
                await producer.send(topic, b"after close")
            consumer = broker.consumer(topic, ctx.group())
            async with consumer:
                pass
            with pytest.raises(anymq.ClosedError):
                await consumer.receive(timeout=0)
        with pytest.raises(anymq.ClosedError):
            await broker.list_topics()

    async def test_credentials_never_shown(self, ctx: TestContext) -> None:
        url = anymq.URL.parse(ctx.url)
        secret = "s3cr3t-Pa55"
        shown = url.with_query(password=secret) if url.password is None else url
        assert secret not in str(shown)
        assert secret not in repr(shown)
        broker = anymq.connect(ctx.url)
        if url.password and url.password != url.username:
            assert url.password not in repr(broker)
            assert url.password not in str(broker.url)
        # A password that cannot collide with the user name (guest:guest) must not show either.
        refused: list[str] = []
        try:
            probe = anymq.connect(replace(url, password=secret).render(hide_password=False))
        except anymq.ConfigError as exc:  # a backend without logins may refuse one at once
            refused += [str(exc), repr(exc)]
        else:
            refused += [repr(probe), str(probe.url)]
        for text in refused:
            assert secret not in text


async def _missing(broker: anymq.Broker, name: str) -> bool:
    return name not in await broker.list_topics()
