"""compression= is a declared capability: refused loudly where a backend cannot compress."""

from __future__ import annotations

import dataclasses

import pytest

import anymq
from anymq import plugins
from anymq.hookspecs import BackendSpec, hookimpl
from anymq_memory.driver import CAPABILITIES, MemoryBroker


class GzipBroker(MemoryBroker):
    """The memory log declaring one codec: exercises the core's codec check only."""

    name = "gzipmem"
    capabilities = dataclasses.replace(
        CAPABILITIES,
        backend="gzipmem",
        features=CAPABILITIES.features | {anymq.Feature.COMPRESSION},
        compression=frozenset({"gzip"}),
    )


class GzipPlugin:
    @staticmethod
    @hookimpl
    def anymq_backends() -> list[BackendSpec]:
        return [BackendSpec("gzipmem", ("gzipmem",), f"{__name__}:GzipBroker")]


@pytest.mark.anymq
@pytest.mark.parametrize("codec", ["zstd", "gzip", "none"])
async def test_memory_refuses_compression(codec: str) -> None:
    async with anymq.connect("memory://") as broker:
        with pytest.raises(anymq.UnsupportedFeature) as info:
            broker.producer(compression=codec)
    assert info.value.feature == "compression"
    assert info.value.backend == "memory"
    assert codec in str(info.value)


@pytest.mark.anymq
async def test_unknown_codec_lists_the_valid_ones() -> None:
    plugins.register(GzipPlugin, name="gzipmem")
    try:
        async with anymq.connect("gzipmem://") as broker:
            with pytest.raises(anymq.ConfigError, match=r"one of gzip .*'zstd'") as info:
                broker.producer(compression="zstd")
            assert not isinstance(info.value, anymq.UnsupportedFeature)
            with pytest.raises(anymq.ConfigError, match="must be a str"):
                broker.producer(compression=3)  # type: ignore[arg-type]
            async with broker.producer(compression="GZIP"):  # codec names ignore case
                pass
    finally:
        plugins.unregister(GzipPlugin)
