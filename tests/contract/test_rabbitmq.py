"""The contract suite on a real RabbitMQ server, in both modes of the backend.

``TestRabbitClassicContract`` uses queues (quorum group queues, exchanges per topic);
``TestRabbitStreamContract`` adds ``?mode=stream`` (a stream per topic, replayable groups).
``stalled_broker`` puts a proxy in front of the same server, so the confirm-timeout test
holds back only its own connection's answers. The server comes from ``tests/brokers.py``
(``ANYMQ_RABBITMQ_URL`` or ``compose/rabbitmq.sh``).
"""

from __future__ import annotations

import pytest

from anymq.testing import ContractSuite
from anymq.testing.stall import Stalled, stalled

pytestmark = pytest.mark.rabbitmq


def _with_query(url: str, query: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{query}"


class _RabbitContract(ContractSuite):
    """What both modes share: RabbitMQ checks logins, and a proxy can hold its confirms."""

    @pytest.fixture
    def checks_credentials(self) -> bool:
        return True

    @pytest.fixture
    def stalled_broker(self, anymq_url: str) -> Stalled:
        return stalled(anymq_url, 1.0, publish_timeout="1")


class TestRabbitClassicContract(_RabbitContract):
    quiet_period = 0.3
    delivery_timeout = 15.0
    retention_seconds = 1.0
    retention_timeout = 20.0

    @pytest.fixture
    def anymq_url(self, rabbitmq_url: str) -> str:
        return rabbitmq_url


class TestRabbitStreamContract(_RabbitContract):
    quiet_period = 0.4
    delivery_timeout = 15.0
    retention_seconds = 1.0
    retention_timeout = 30.0

    @pytest.fixture
    def anymq_url(self, rabbitmq_url: str) -> str:
        return _with_query(rabbitmq_url, "mode=stream")
