"""The core's checks around declared groups, on memory-log backends that lack a feature.

The contract suite proves the behaviour on every real backend; these prove the refusals the
built-in backends never reach (they all declare declared_groups), and that a refusal leaves
nothing behind.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator

import pytest

import anymq
from anymq import plugins
from anymq.hookspecs import BackendSpec, hookimpl
from anymq_memory.driver import CAPABILITIES, MemoryBroker


class UndeclaredBroker(MemoryBroker):
    """The memory log without declared_groups."""

    name = "nodeclare"
    capabilities = dataclasses.replace(
        CAPABILITIES,
        backend="nodeclare",
        features=CAPABILITIES.features - {anymq.Feature.DECLARED_GROUPS},
    )


class QueueLikeBroker(MemoryBroker):
    """The memory log as a message broker would declare it: no history for new groups."""

    name = "queuelike"
    capabilities = dataclasses.replace(
        CAPABILITIES,
        backend="queuelike",
        features=CAPABILITIES.features - {anymq.Feature.RETAINS_CONSUMED},
    )


class Plugin:
    @staticmethod
    @hookimpl
    def anymq_backends() -> list[BackendSpec]:
        return [
            BackendSpec("nodeclare", ("nodeclare",), f"{__name__}:UndeclaredBroker"),
            BackendSpec("queuelike", ("queuelike",), f"{__name__}:QueueLikeBroker"),
        ]


@pytest.fixture(autouse=True)
def registered() -> Iterator[None]:
    plugins.register(Plugin, name="declared-groups-test")
    yield
    plugins.unregister(Plugin)


@pytest.mark.anymq
async def test_undeclared_feature_refuses_before_creating_anything() -> None:
    async with anymq.connect(f"nodeclare://{uuid.uuid4().hex}") as broker:
        with pytest.raises(anymq.UnsupportedFeature) as info:
            await broker.create_topic("t", groups=["g"])
        assert info.value.feature == "declared_groups"
        assert await broker.list_topics() == []
        await broker.create_topic("t")  # without groups it works
        with pytest.raises(anymq.UnsupportedFeature):
            await broker.create_group("t", "g")
        assert (await broker.describe_topic("t")).details["groups"] == []


@pytest.mark.anymq
async def test_groups_argument_is_checked_first() -> None:
    async with anymq.connect(f"memory://{uuid.uuid4().hex}") as broker:
        with pytest.raises(anymq.ConfigError, match=r"groups=\['g'\]"):
            await broker.create_topic("t", groups="g")
        with pytest.raises(anymq.InvalidTopicName, match="group"):
            await broker.create_topic("t", groups=["ok", 3])  # type: ignore[list-item]
        assert await broker.list_topics() == []
        assert await broker.create_topic("t", groups=["a", "b", "a"]) is True
        assert (await broker.describe_topic("t")).details["groups"] == ["a", "b"]
        with pytest.raises(anymq.TopicNotFound):
            await broker.create_group("missing", "a")


@pytest.mark.anymq
async def test_earliest_needs_an_existing_group_without_history() -> None:
    async with anymq.connect(f"queuelike://{uuid.uuid4().hex}") as broker:
        await broker.create_topic("t")
        with pytest.raises(anymq.UnsupportedFeature, match="retains_consumed"):
            broker.consumer("t", start="earliest")  # no group: refused at once
        late = broker.consumer("t", "g", start="earliest")
        with pytest.raises(anymq.UnsupportedFeature, match="new group 'g'"):
            await late.start()
        assert (await broker.describe_topic("t")).details["groups"] == []  # nothing created
        await broker.create_group("t", "g")
        async with broker.producer() as producer:
            await producer.send("t", b"waiting")
        async with broker.consumer("t", "g", start="earliest") as consumer:
            assert [m.value for m in await consumer.receive(timeout=1)] == [b"waiting"]
