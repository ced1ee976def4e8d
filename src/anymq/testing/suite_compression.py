"""Contract: ``producer(compression=...)`` compresses for real or is refused, never ignored."""

from __future__ import annotations

import pytest

import anymq
from anymq.features import Feature
from anymq.testing.context import TestContext
from anymq.testing.decorators import requires
from anymq.testing.ledger import assert_received


class CompressionContract:
    """Every codec a backend declares round-trips; anything else fails before sending."""

    @requires(Feature.COMPRESSION)
    async def test_compressed_roundtrip(self, ctx: TestContext) -> None:
        codecs = sorted(ctx.capabilities.compression)
        assert codecs, "Feature.COMPRESSION is declared but Capabilities.compression is empty"
        body = b"anymq compresses repetitive bodies well. " * 500
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            async with broker.consumer(topic, ctx.group()) as consumer:
                for codec in codecs:
                    async with broker.producer(compression=codec) as producer:
                        await producer.send(topic, body + codec.encode(), key=codec.encode())
                got = await ctx.collect(consumer, len(codecs))
        ctx.observe("compression.codecs", codecs)
        assert_received(
            "the consumer (one message per codec)",
            [body + c.encode() for c in codecs],
            [m.body for m in got],
            keys={body + c.encode(): c.encode() for c in codecs},
        )
        assert all(m.key is not None and m.body.endswith(m.key) for m in got), got

    async def test_unknown_codec_is_refused(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:
            if not ctx.has(Feature.COMPRESSION):
                with pytest.raises(anymq.UnsupportedFeature) as refused:
                    broker.producer(compression="gzip")
                assert refused.value.feature == Feature.COMPRESSION.value
                return  # a pass: the codec was refused, not ignored
            with pytest.raises(anymq.ConfigError) as info:
                broker.producer(compression="no-such-codec")
        assert not isinstance(info.value, anymq.UnsupportedFeature)
        for codec in ctx.capabilities.compression:
            assert codec in str(info.value), f"{codec} missing from: {info.value}"
