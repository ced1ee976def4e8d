"""The contract suite on a real NATS server with JetStream (see tests/brokers.py for where
it runs: ``ANYMQ_NATS_URL`` or ``compose/nats.sh``)."""

from __future__ import annotations

import pytest

from anymq.testing import ContractSuite

pytestmark = pytest.mark.nats


class TestNatsContract(ContractSuite):
    # Waiting knobs only: JetStream answers in milliseconds; retention by age runs on the
    # server's expiry timer.
    quiet_period = 0.3
    delivery_timeout = 15.0
    retention_seconds = 1.0
    retention_timeout = 20.0

    @pytest.fixture
    def anymq_url(self, nats_url: str) -> str:
        return nats_url

    @pytest.fixture
    def checks_credentials(self) -> bool:
        # compose/nats.sh's server has no accounts or users: a password is not checked.
        return False
