"""The plugin system: third-party backends register like built-in ones; hooks are documented."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
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
    # 'broken' is an extra of the plugin's own distribution, not of anymq: never suggest
    # pip install 'anymq[broken]', which does not exist.
    assert "anymq[broken]" not in str(info.value)
    assert "'broken'" in str(info.value)
    assert "not_installed_client" in str(info.value)


class HintedPlugin:
    @staticmethod
    @hookimpl
    def anymq_backends() -> list[BackendSpec]:
        return [
            BackendSpec(
                "hinted",
                ("hinted",),
                "not_installed_client.driver:X",
                install_hint="pip install anymq-hinted",
            )
        ]


def test_install_hint_is_written_by_the_plugin() -> None:
    plugins.register(HintedPlugin, name="hinted")
    try:
        with pytest.raises(anymq.UnknownBackend) as info:
            anymq.connect("hinted://x")
        assert "pip install anymq-hinted" in str(info.value)
        assert plugins.backends()["hinted"].install_hint == "pip install anymq-hinted"
    finally:
        plugins.unregister(HintedPlugin)


def test_builtin_hints_name_anymq_extras() -> None:
    table = plugins.backends()
    assert table["kafka"].install_hint == "pip install 'anymq[kafka]'"
    assert table["amqp"].install_hint == "pip install 'anymq[rabbitmq]'"
    assert table["sqs"].install_hint == "pip install 'anymq[sqs]'"


def test_entry_point_extra_names_its_own_distribution() -> None:
    spec = BackendSpec("nats", ("nats",), "anymq_nats.driver:NatsBroker", extra="nats")
    assert plugins.install_hint(spec, "anymq-nats") == "pip install 'anymq-nats[nats]'"
    hint = plugins.install_hint(spec, None) or ""
    assert "anymq[" not in hint
    assert "nats" in hint


class Usurper:
    """A plugin that claims a scheme a built-in backend already has."""

    @staticmethod
    @hookimpl
    def anymq_backends() -> list[BackendSpec]:
        return [BackendSpec("usurper", ("usurp", "memory"), "tests.core.toy_backend:ToyBroker")]


def test_second_claim_of_a_scheme_is_refused() -> None:
    try:
        with pytest.raises(anymq.ConfigError) as info:
            plugins.register(Usurper, name="usurper")
        kept = plugins.plugin_manager().is_registered(Usurper)
    finally:
        if plugins.plugin_manager().is_registered(Usurper):  # the old registry took it
            plugins.unregister(Usurper)
    message = str(info.value)
    assert "'memory'" in message
    assert "usurper" in message
    assert "anymq_memory" in message
    # refused whole: the registry is as before, memory:// is still the memory backend
    assert not kept, "register() left the refused plugin registered"
    assert "usurp" not in plugins.backends()
    assert anymq.connect("memory://").backend == "memory"


def test_builtins_are_registered_once_with_entry_points_installed() -> None:
    from importlib.metadata import entry_points

    import anymq_memory.plugin

    assert "memory" in {ep.name for ep in entry_points(group="anymq")}  # installed here
    pm = plugins.plugin_manager()
    registered = [plugin for _, plugin in pm.list_name_plugin()]
    assert registered.count(anymq_memory.plugin) == 1
    assert plugins.backends()["memory"].name == "memory"


def test_plain_checkout_works_without_entry_points(tmp_path: Path) -> None:
    """Only the dependencies importable, no installed distribution (python -S): the
    built-in backends are registered in code, so memory:// works from a source tree."""
    import pluggy

    deps = tmp_path / "deps"
    deps.mkdir()
    (deps / "pluggy").symlink_to(Path(pluggy.__file__).parent)
    root = Path(__file__).resolve().parents[2]
    code = (
        "import asyncio, importlib.metadata as md, anymq\n"
        "assert not list(md.entry_points(group='anymq')), 'entry points visible'\n"
        "async def main():\n"
        "    async with anymq.connect('memory://') as b:\n"
        "        await b.create_topic('t')\n"
        "        async with b.consumer('t', 'g') as c, b.producer() as p:\n"
        "            await p.send('t', b'hi')\n"
        "            [m] = await c.receive(timeout=1)\n"
        "    print(sorted(anymq.plugins.backends()), m.body)\n"
        "asyncio.run(main())\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{root / 'src'}:{root / 'plugins'}:{deps}"}
    done = subprocess.run(
        [sys.executable, "-S", "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "'kafka', 'kafka+ssl', 'memory'" in done.stdout
    assert "b'hi'" in done.stdout


def test_a_checkout_without_the_plugins_folder_says_how_to_fix_it(tmp_path: Path) -> None:
    """``PYTHONPATH=src`` alone (a newcomer running the README example from a clone without
    installing): the built-in backends live in plugins/, so anymq says so and how to fix it,
    instead of a raw ModuleNotFoundError from inside the registry."""
    import pluggy

    deps = tmp_path / "deps"
    deps.mkdir()
    (deps / "pluggy").symlink_to(Path(pluggy.__file__).parent)
    root = Path(__file__).resolve().parents[2]
    code = "import anymq\nanymq.connect('memory://')\n"
    env = {**os.environ, "PYTHONPATH": f"{root / 'src'}:{deps}"}
    done = subprocess.run(
        [sys.executable, "-S", "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("anymq.errors.ConfigError: the built-in backend module"), last
    assert "anymq_memory.plugin" in last
    assert "pip install -e ." in last
    assert "plugins" in last


def test_every_hook_is_documented() -> None:
    text = DOCS.read_text()
    hooks = [name for name, _ in inspect.getmembers(hookspecs) if name.startswith("anymq_")]
    assert hooks, "no hookspecs found"
    for name in hooks:
        assert re.search(rf"^##+ `?{name}", text, re.MULTILINE), f"{name} has no section in {DOCS}"
        doc = inspect.getdoc(getattr(hookspecs, name))
        assert doc, f"{name} has no docstring"
