"""Helpers for the RabbitMQ-specific tests: URLs per mode and restarting the server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiormq
import aiormq.exceptions as amqp_errors

import anymq

ROOT = Path(__file__).resolve().parents[2]


def with_query(url: str, **options: str) -> str:
    """``url`` plus query options (``mode=stream`` etc.)."""
    if not options:
        return url
    query = "&".join(f"{k}={v}" for k, v in options.items())
    return f"{url}{'&' if '?' in url else '?'}{query}"


async def server(url: str, action: str, env: dict[str, str] | None = None) -> float:
    """Run ``compose/rabbitmq.sh ACTION`` for the node behind ``url``; returns the seconds taken.

    The script manages the node for the URL's port (``ANYMQ_RABBITMQ_PORT``; a port other
    than 5672 gets its own state folder); a server the project did not start cannot be
    restarted from here. ``env`` adds variables (e.g. ``ANYMQ_RABBITMQ_DIR``).
    """
    environ = {**os.environ, **(env or {})}
    environ.setdefault("ANYMQ_RABBITMQ_PORT", str(anymq.URL.parse(url).port or 5672))
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        "bash",
        str(ROOT / "compose" / "rabbitmq.sh"),
        *shlex.split(action),  # "ctl add_user NAME PASSWORD" takes several words
        env=environ,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise AssertionError(f"compose/rabbitmq.sh {action} failed:\n{output.decode()}")
    return time.monotonic() - started


async def restart_server(url: str) -> float:
    """Restart the node behind ``url``; returns the seconds it took."""
    return await server(url, "restart")


@contextlib.asynccontextmanager
async def raw_channel(url: str) -> AsyncIterator[aiormq.abc.AbstractChannel]:
    """A plain aiormq channel on the server behind ``url`` (vhost ``/``), for a test to
    look at or set up what anymq does not (an older anymq's queues)."""
    target = anymq.URL.parse(url)
    connection = await aiormq.connect(
        f"amqp://{target.username or 'guest'}:{target.password or 'guest'}@"
        f"{target.host}:{target.port or 5672}/"
    )
    try:
        yield await connection.channel()
    finally:
        await connection.close()


async def queue_exists(url: str, queue: str) -> bool:
    """Whether ``queue`` exists on the server behind ``url`` (a passive declare)."""
    async with raw_channel(url) as channel:
        try:
            await channel.queue_declare(queue, passive=True)
        except amqp_errors.ChannelNotFoundEntity:
            return False
        return True
