"""connect(): URL resolution, ANYMQ_URL, unknown schemes, option errors, lifecycle."""

from __future__ import annotations

import pytest

import anymq
from anymq import plugins

pytestmark = pytest.mark.anymq


def test_no_url_and_no_env_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANYMQ_URL", raising=False)
    with pytest.raises(anymq.ConfigError, match="ANYMQ_URL"):
        anymq.connect()


def test_env_url_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANYMQ_URL", "memory://from-env")
    broker = anymq.connect()
    assert broker.url.host == "from-env"
    assert broker.backend == "memory"


def test_unknown_scheme_lists_installed_backends() -> None:
    with pytest.raises(anymq.UnknownBackend) as info:
        anymq.connect("mqtt://u:secret@localhost:1883")
    message = str(info.value)
    assert "'mqtt'" in message
    assert "memory://" in message
    assert "pip install" in message
    assert "secret" not in message
    assert isinstance(info.value, anymq.ConfigError)


def test_unknown_option_names_valid_ones() -> None:
    with pytest.raises(anymq.ConfigError, match="auto_create_topics"):
        anymq.connect("memory://?bogus=1")


def test_keyword_options_override_url_options() -> None:
    broker = anymq.connect("memory://opts?auto_create_topics=false", auto_create_topics=True)
    assert broker.driver.options["auto_create_topics"] is True


async def test_auto_create_topics_option() -> None:
    async with anymq.connect("memory://auto", auto_create_topics=True) as broker:
        async with broker.producer() as producer:
            receipt = await producer.send("made-on-send", b"x")
        assert receipt.offset == 0
        assert "made-on-send" in await broker.list_topics()


async def test_broker_close_closes_children_and_is_idempotent() -> None:
    broker = anymq.connect("memory://life")
    async with broker:
        await broker.create_topic("t")
        producer = broker.producer()
        consumer = broker.consumer("t", "g")
        await producer.start()
        await consumer.start()
    await broker.close()
    with pytest.raises(anymq.ClosedError):
        await producer.send("t", b"x")
    with pytest.raises(anymq.ClosedError):
        await consumer.receive(timeout=0)
    with pytest.raises(anymq.ClosedError, match="closed"):
        await broker.start()


async def test_unstarted_clients_say_how_to_start() -> None:
    async with anymq.connect("memory://unstarted") as broker:
        await broker.create_topic("t")
        with pytest.raises(anymq.ClosedError, match="async with"):
            await broker.producer().send("t", b"x")


def test_backends_are_found_through_entry_points() -> None:
    from importlib.metadata import entry_points

    names = {ep.name for ep in entry_points(group="anymq")}
    assert {"memory", "kafka", "rabbitmq", "sqs"} <= names
    table = plugins.backends()
    assert table["memory"].driver == "anymq_memory.driver:MemoryBroker"
    assert table["kafka"].extra == "kafka"
