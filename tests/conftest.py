"""Session fixtures that hand out real broker URLs (see tests/brokers.py)."""

from __future__ import annotations

import signal

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


@pytest.fixture(scope="session")
def redis_url() -> str:
    return broker_url("redis")


@pytest.fixture(scope="session")
def nats_url() -> str:
    return broker_url("nats")


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C reaches pytest and the commands the tests start, even when pytest was started
    in the background of a script: bash starts those with SIGINT ignored, children inherit
    that, and the tests that press Ctrl-C on a command (exit 130) would see it ignored."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


_BROKER_MARKS = ("kafka", "rabbitmq", "sqs", "redis", "nats")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that need no real broker are marked ``memory`` (``-m memory`` runs just those)."""
    for item in items:
        if not any(item.get_closest_marker(mark) for mark in _BROKER_MARKS):
            item.add_marker(pytest.mark.memory)
