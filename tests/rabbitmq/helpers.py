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
    port = anymq.URL.parse(url).port or 5672
    shared = anymq.URL.parse(os.environ.get("ANYMQ_RABBITMQ_URL", "amqp://127.0.0.1/")).port
    if action.split()[0] in ("stop", "restart") and port == (shared or 5672):
        raise AssertionError(
            f"a test would {action} the shared RabbitMQ node (port {port}), which other lanes "
            "use at the same time: use the own_node fixture and own_server() instead"
        )
    environ = {**os.environ, **(env or {})}
    environ.setdefault("ANYMQ_RABBITMQ_PORT", str(port))
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


#: A private node for the tests that stop, start or restart a server. Never the shared
#: one: other lanes (the compare tests, tests marked for several brokers) use that at the
#: same time, and a restart under them fails them as "unreachable".
OWN_PORT = int(os.environ.get("ANYMQ_RABBITMQ_OWN_PORT", "5771"))
OWN_ENV = {
    "ANYMQ_RABBITMQ_PORT": str(OWN_PORT),
    "ANYMQ_RABBITMQ_DIR": os.environ.get("ANYMQ_RABBITMQ_OWN_DIR", f"/tmp/rmq-{OWN_PORT}"),
}
OWN_URL = f"amqp://guest:guest@127.0.0.1:{OWN_PORT}/"


async def own_server(action: str) -> float:
    """``compose/rabbitmq.sh ACTION`` (start, stop, restart) on the private node."""
    return await server(OWN_URL, action, OWN_ENV)


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
