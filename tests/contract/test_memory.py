"""The contract suite on the built-in in-memory log."""

from __future__ import annotations

import pytest

from anymq.testing import ContractSuite


class TestMemoryContract(ContractSuite):
    quiet_period = 0.05
    delivery_timeout = 5.0
    retention_seconds = 0.3
    retention_timeout = 5.0

    @pytest.fixture
    def anymq_url(self) -> str:
        return "memory://contract"

    @pytest.fixture
    def unreachable_url(self) -> None:
        return None  # an in-process log: there is no network to lose

    @pytest.fixture
    def checks_credentials(self) -> bool:
        return False  # memory:// has no credentials to check
