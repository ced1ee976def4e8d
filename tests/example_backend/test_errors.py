"""The example backend's error map, provoked for real on SQLite files (no mocks)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

import anymq
from anymq import plugins
from tests.example_backend.anymq_sqlite import plugin

pytestmark = pytest.mark.anymq


@pytest.fixture(autouse=True)
def sqlite_plugin() -> Iterator[None]:
    plugins.register(plugin, name="anymq-sqlite")
    yield
    plugins.unregister(plugin)


async def test_a_missing_directory_is_broker_unavailable(tmp_path: Path) -> None:
    with pytest.raises(anymq.BrokerUnavailable) as info:
        async with anymq.connect(f"sqlite:///{tmp_path}/no/such/dir.db"):
            pass
    assert info.value.retriable
    assert "no/such/dir.db" in str(info.value)
    assert isinstance(info.value.__cause__, sqlite3.OperationalError)


async def test_a_file_that_is_not_a_database_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"these are not the pages you are looking for" * 100)
    with pytest.raises(anymq.ConfigError, match="not an anymq sqlite database"):
        async with anymq.connect(f"sqlite:///{path}"):
            pass


async def test_a_held_write_lock_is_a_retriable_publish_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/locked.db?connect_timeout=0.2"
    async with anymq.connect(url) as broker:
        await broker.create_topic("t")
        async with broker.consumer("t", "g") as consumer, broker.producer() as producer:
            other = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
            other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
            try:
                with pytest.raises(anymq.PublishError) as info:
                    await producer.send("t", b"blocked")
            finally:
                other.rollback()
                other.close()
            assert info.value.retriable
            assert "nothing was written" in str(info.value)
            await producer.send("t", b"after")
            [msg] = await consumer.receive(timeout=5)
    assert msg.value == b"after"
