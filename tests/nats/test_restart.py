"""A NATS server SIGKILLed and started again while a producer sends and a group consumes.

Runs against a private server on its own port (``compose/nats.sh`` with
``ANYMQ_NATS_PORT``), never the shared one. A killed process (not a power loss, which depends on
when JetStream syncs its file store) must lose no confirmed message: each one must be
consumed after the restart. Sends that fail during the outage are retried by the test, so
duplicates are possible and reported, never lost messages.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.restart import PrivateServer, confirmed_load_across_a_kill

pytestmark = [pytest.mark.nats, pytest.mark.anymq, pytest.mark.slow]

PORT = int(os.environ.get("ANYMQ_NATS_FAULT_PORT", "4232"))


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[PrivateServer]:
    server = PrivateServer("nats.sh", "NATS", PORT, tmp_path, "nats-server.pid")
    server.run("start")
    try:
        yield server
    finally:
        server.run("stop")


async def test_server_killed_under_load_loses_no_confirmed_message(
    private_nats: PrivateServer,
) -> None:
    url = f"nats://127.0.0.1:{PORT}?connect_timeout=2"
    topic = f"anymq-nats-kill-{uuid.uuid4().hex[:8]}"
    await confirmed_load_across_a_kill(url, private_nats, topic)
