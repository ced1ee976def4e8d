"""The plugin system: third-party backends register like built-in ones; hooks are documented."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import anymq
from anymq import hookspecs, plugins
from anymq.hookspecs import BackendSpec, hookimpl

DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


class ToyPlugin:
    """A third-party plugin: a backend reusing the memory driver under its own scheme."""

    @staticmethod
    @hookimpl
    def anymq_backends() -> list[BackendSpec]:
        return [BackendSpec("toy", ("toy",), "tests.core.toy_backend:ToyBroker", extra="toy")]

    @staticmethod
    @hookimpl
    def anymq_serializers() -> dict[str, Callable[[], Any]]:
        from anymq.serializers import StrSerializer

        return {"toy-text": StrSerializer}


class BrokenPlugin:
    @staticmethod
    @hookimpl
    def anymq_backends() -> list[BackendSpec]:
        return [BackendSpec("broken", ("broken",), "not_installed_client.driver:X", extra="broken")]


@pytest.fixture
def toy() -> Any:
    plugins.register(ToyPlugin, name="toy")
    plugins.register(BrokenPlugin, name="broken")
    yield
    plugins.unregister(ToyPlugin)
    plugins.unregister(BrokenPlugin)


@pytest.mark.anymq
async def test_third_party_backend_works_through_the_public_api(toy: None) -> None:
    async with anymq.connect("toy://space") as broker:
        assert broker.backend == "toy"
        await broker.create_topic("t")
        async with broker.consumer("t", "g", serializer="toy-text") as consumer:
            async with broker.producer(serializer="toy-text") as producer:
                await producer.send("t", "héllo")
            [msg] = await consumer.receive(timeout=1)
        assert msg.value == "héllo"


def test_missing_dependency_gives_install_hint(toy: None) -> None:
    with pytest.raises(anymq.UnknownBackend) as info:
        anymq.connect("broken://x")
    assert "pip install 'anymq[broken]'" in str(info.value)
    assert "not_installed_client" in str(info.value)


def test_every_hook_is_documented() -> None:
    text = DOCS.read_text()
    hooks = [name for name, _ in inspect.getmembers(hookspecs) if name.startswith("anymq_")]
    assert hooks, "no hookspecs found"
    for name in hooks:
        assert re.search(rf"^##+ `?{name}", text, re.MULTILINE), f"{name} has no section in {DOCS}"
        doc = inspect.getdoc(getattr(hookspecs, name))
        assert doc, f"{name} has no docstring"
