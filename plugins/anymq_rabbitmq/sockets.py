"""The sockets aiormq opens for one connection, so a failed start can close every one.

aiormq runs its handshake in a task of its own and awaits it; a cancel that lands just
after the handshake finished (between that task's end and the await resuming) drops the
open connection: nobody holds it, yet its socket and its reader, writer and heartbeat
tasks live on. aio-pika's ``close()`` cannot reach it. Closing the socket ends them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiormq.connection import TCPTransportFactory, TLSTransportFactory, TransportFactory


class TrackedSockets(TransportFactory):
    """aiormq's own TCP/TLS factory, remembering the sockets it opened that are still open."""

    def __init__(self, tls: bool) -> None:
        self._factory: TransportFactory = TLSTransportFactory() if tls else TCPTransportFactory()
        self._writers: list[asyncio.StreamWriter] = []

    async def create(
        self,
        url: Any,  # a yarl.URL, aiormq's (yarl is not ours to import)
        **kwargs: Any,
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await self._factory.create(url, **kwargs)
        self._writers = [w for w in self._writers if not w.is_closing()]
        self._writers.append(writer)
        return reader, writer

    def close_all(self) -> None:
        """Close every socket still open (the connection it belonged to ends with it)."""
        writers, self._writers = self._writers, []
        for writer in writers:
            if not writer.is_closing():
                writer.close()
