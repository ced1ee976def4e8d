"""Session fixtures that hand out real broker URLs (see tests/brokers.py)."""

from __future__ import annotations

import pytest

from tests.brokers import broker_url


@pytest.fixture(scope="session")
def kafka_url() -> str:
    return broker_url("kafka")


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    return broker_url("rabbitmq")


@pytest.fixture(scope="session")
def sqs_url() -> str:
    return broker_url("sqs")
