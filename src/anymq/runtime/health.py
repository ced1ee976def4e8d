"""Health of a running App: a typed snapshot, and the HTTP endpoints that serve it.

``/healthz`` (liveness) answers 200 unless a handler's consumer died (the app then stops);
``/readyz`` (readiness) 200 once every handler is subscribed and until the app starts
draining, so a load balancer or Kubernetes stops sending work before the shutdown. Both
return the snapshot as JSON. Served with asyncio's own server: no web framework needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

log = logging.getLogger("anymq.runtime")


@dataclass(frozen=True, slots=True)
class HandlerHealth:
    """One handler's consumer."""

    name: str
    topic: str
    group: str | None
    subscribed: bool
    in_flight: int
    """Handlers running now."""
    waiting: int
    """Fetched messages waiting for a slot or behind their key."""
    retrying: int
    """Messages held for their retry backoff."""
    partitions: tuple[int, ...] | None
    """Partitions this member holds, where the backend tells (else None)."""
    lag: int | None
    """Messages waiting for the group (``describe_group().backlog``), None where unknown.
    On a log (Kafka, memory) it counts from the committed offset, so it includes the
    unfinished messages; on a queue (RabbitMQ, SQS) those are ``unsettled`` instead."""
    unsettled: int | None
    """Delivered to the group and not settled, where the broker tells (queues)."""
    last_error: str | None
    """The last handler exception, ``type: message``."""


@dataclass(frozen=True, slots=True)
class Health:
    """A snapshot of an App (``await app.health()``)."""

    running: bool
    connected: bool
    draining: bool
    handlers: tuple[HandlerHealth, ...]
    last_error: str | None
    """What stopped the app (a handler's consumer failed), if something did."""

    @property
    def live(self) -> bool:
        """Nothing has failed for good (while starting and draining too: a restart would
        not help then)."""
        return self.last_error is None

    @property
    def ready(self) -> bool:
        """Connected, every handler subscribed, and not shutting down."""
        return (
            self.live
            and self.running
            and self.connected
            and not self.draining
            and all(h.subscribed for h in self.handlers)
        )

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["live"], out["ready"] = self.live, self.ready
        return out


Snapshot = Callable[[], Awaitable[Health]]

_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


async def _answer(snapshot: Snapshot, reader: asyncio.StreamReader) -> tuple[int, bytes]:
    request = await reader.readline()
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        del line  # headers: nothing in them matters here
    parts = request.decode("latin-1").split()
    if len(parts) < 2:
        return 404, b'{"error": "bad request"}'
    method, path = parts[0], parts[1].split("?", 1)[0]
    if path not in ("/healthz", "/readyz"):
        return 404, b'{"error": "try /healthz or /readyz"}'
    if method != "GET":
        return 405, b'{"error": "use GET"}'
    health = await snapshot()
    ok = health.live if path == "/healthz" else health.ready
    return (200 if ok else 503), json.dumps(health.to_dict()).encode()


async def serve(snapshot: Snapshot, host: str, port: int) -> asyncio.Server:
    """Serve ``/healthz`` and ``/readyz`` on ``host:port`` (port 0: any free port)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                status, body = await _answer(snapshot, reader)
                head = (
                    f"HTTP/1.1 {status} {_REASONS[status]}\r\n"
                    "Content-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                )
                writer.write(head.encode() + body)
                await writer.drain()
        except (TimeoutError, ConnectionError) as exc:
            log.debug("health check connection ended: %s", exc)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    return await asyncio.start_server(handle, host, port)
