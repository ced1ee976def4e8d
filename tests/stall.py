"""A TCP proxy in front of a real broker that can stop passing the broker's answers on.

After ``stall()`` every request still reaches the broker, but its replies are held back
until ``resume()``: a send written meanwhile waits for a confirm that does not arrive, the
"outcome unknown" case (DeliveryUncertain), without pausing the shared broker. Resuming
before closing lets the clients close their connections cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib


class StallProxy:
    """``async with StallProxy(host, port) as local_port`` forwards 127.0.0.1:local_port."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.stalled = False
        self._resumed = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    def stall(self) -> None:
        """From now on, hold back what the broker sends (requests still get through)."""
        self.stalled = True
        self._resumed.clear()

    def resume(self) -> None:
        """Pass the held-back replies on, and everything after them."""
        self.stalled = False
        self._resumed.set()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, answers: bool
    ) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                if answers and self.stalled:
                    await self._resumed.wait()
                writer.write(data)
                await writer.drain()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        self._writers += [writer, up_writer]
        for task in (
            asyncio.create_task(self._pipe(reader, up_writer, answers=False)),
            asyncio.create_task(self._pipe(up_reader, writer, answers=True)),
        ):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def __aenter__(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for writer in self._writers:
            writer.close()
        await asyncio.gather(*self._tasks, return_exceptions=True)
