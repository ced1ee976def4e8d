"""A Redis server SIGKILLed and started again while a producer sends and a group consumes.

Runs against a private server on its own port (``compose/redis.sh`` with
``ANYMQ_REDIS_PORT``), never the shared one. With ``appendonly yes`` every XADD is
written to the append-only file before its answer leaves the server, so a killed process
(not a power loss) loses no confirmed message: each one must be consumed after the restart.
Sends that fail during the outage are retried by the test, so duplicates are possible and
reported, never lost messages.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.restart import PrivateServer, confirmed_load_across_a_kill

pytestmark = [pytest.mark.redis, pytest.mark.anymq, pytest.mark.slow]

PORT = int(os.environ.get("ANYMQ_REDIS_FAULT_PORT", "6391"))


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateServer]:
    server = PrivateServer("redis.sh", "REDIS", PORT, tmp_path, "redis.pid")
    server.run("start")
    try:
        yield server
    finally:
        server.run("stop")


async def test_server_killed_under_load_loses_no_confirmed_message(
    private_redis: PrivateServer,
) -> None:
    url = f"redis://127.0.0.1:{PORT}/0?connect_timeout=2"
    topic = f"anymq-redis-kill-{uuid.uuid4().hex[:8]}"
    await confirmed_load_across_a_kill(url, private_redis, topic)
