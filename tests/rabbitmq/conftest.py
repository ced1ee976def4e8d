"""Fixtures of the RabbitMQ-specific tests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.rabbitmq.helpers import OWN_URL, own_server


@pytest.fixture(scope="session")
def own_node() -> Iterator[str]:
    """The URL of a RabbitMQ node started for the tests that stop or restart a server,
    started once and stopped at the end: the shared node stays up for everyone else."""
    asyncio.run(own_server("start"))
    try:
        yield OWN_URL
    finally:
        asyncio.run(own_server("stop"))
