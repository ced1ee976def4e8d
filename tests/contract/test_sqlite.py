"""The contract suite on the example third-party backend (tests/example_backend/anymq_sqlite),
registered at run time as an application embedding a backend would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.example_backend.anymq_sqlite import plugin

from anymq import plugins
from anymq.testing import ContractSuite


@pytest.fixture(scope="module", autouse=True)
def sqlite_plugin() -> Iterator[None]:
    plugins.register(plugin, name="anymq-sqlite")
    yield
    plugins.unregister(plugin)


@pytest.fixture(scope="module")
def sqlite_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One file for the whole suite, as one broker serves many tests."""
    return tmp_path_factory.mktemp("sqlite") / "contract.db"


class TestSqliteContract(ContractSuite):
    quiet_period = 0.2
    delivery_timeout = 10.0

    @pytest.fixture
    def anymq_url(self, sqlite_database: Path) -> str:
        return f"sqlite:///{sqlite_database}"  # an absolute path: sqlite:////tmp/...

    @pytest.fixture
    def checks_credentials(self) -> bool:
        return False  # a file has no login: a password is a ConfigError
