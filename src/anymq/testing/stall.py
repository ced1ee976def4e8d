"""A TCP proxy in front of a real broker that can stop passing the broker's answers on.

After ``stall()`` every request still reaches the broker, but its replies are held back
until ``resume()``: a send written meanwhile waits for a confirm that does not arrive, the
"outcome unknown" case (DeliveryUncertain), without pausing a broker others share.
Resuming before closing lets the clients close their connections cleanly.

The proxy binds its local port when it is made, so a (synchronous) pytest fixture can
hand out the URL through it; it starts forwarding inside the test's own event loop
(``async with proxy``). :func:`stalled` builds both from the URL under test.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from anymq.url import URL


class StallProxy:
    """Forwards ``127.0.0.1:local_port`` to ``host:port`` while ``async with`` it."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.stalled = False
        self._resumed = asyncio.Event()
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen()
        self.local_port = int(self._listener.getsockname()[1])
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
        # the Event binds to the running loop on first wait: a fresh one per start
        self._resumed = asyncio.Event()
        if not self.stalled:
            self._resumed.set()
        self._server = await asyncio.start_server(self._serve, sock=self._listener)
        return self.local_port

    async def __aexit__(self, *exc: object) -> None:
        self.resume()
        if self._server is not None:
            self._server.close()
        self._listener.close()
        for task in list(self._tasks):
            task.cancel()
        for writer in self._writers:
            writer.close()
        await asyncio.gather(*self._tasks, return_exceptions=True)


@dataclass(frozen=True)
class Stalled:
    """``url`` reaches the broker under test through ``proxy`` only, with ``options``
    that make a send give up on its confirm after ``timeout`` seconds."""

    url: str
    proxy: StallProxy
    timeout: float


def stalled(url: str, timeout: float, **options: str) -> Stalled:
    """A :class:`StallProxy` in front of the broker ``url`` names, and ``url`` aimed at it
    plus ``options`` (the backend's own names for a short confirm ``timeout``).

    The broker's address is the URL's ``http(s)://`` option where it has one (SQS's
    ``endpoint_url``; a host that repeats its address is aimed at the proxy too), else the
    first host (the only one left in the URL). Plain-text
    brokers only: TLS through the proxy would see a certificate for another name.
    """
    parsed = URL.parse(url)
    http = {k: v for k, v in parsed.query.items() if v.startswith(("http://", "https://"))}
    address: tuple[str | None, int | None] = (None, None)
    if http:
        split = urlsplit(next(iter(http.values())))
        address = (split.hostname, split.port or (443 if split.scheme == "https" else 80))
    elif parsed.hosts:
        address = parsed.hosts[0]
    host, port = address
    if host is None or port is None:
        raise ValueError(f"{parsed.render()} names no host:port to put a proxy in front of")
    proxy = StallProxy(host, port)
    here = f"127.0.0.1:{proxy.local_port}"
    query = {**parsed.query, **{k: f"{urlsplit(v).scheme}://{here}" for k, v in http.items()}}
    # the first host, or (SQS) any host that repeats the endpoint's address
    hosts = tuple(
        ("127.0.0.1", proxy.local_port) if (not http and i == 0) or h == address else h
        for i, h in enumerate(parsed.hosts)
    )[: len(parsed.hosts) if http else 1]
    through = replace(parsed, hosts=hosts, query={**query, **options})
    return Stalled(through.render(hide_password=False), proxy, timeout)
