"""One robust AMQP connection per broker, plain channels for admin work, error mapping.

Data channels (producers, consumers) are aio-pika robust channels, restored after a
connection loss. Admin work (declares, passive checks, the registry) runs on short-lived
plain aiormq channels: RabbitMQ closes a channel on every 404/405/406, and a plain channel
can simply be dropped and replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import aio_pika
import aiormq
import aiormq.exceptions as amqp_errors
from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection
from aio_pika.connection import make_url

from anymq.errors import AnyMQError, BrokerUnavailable, ClosedError, ConfigError
from anymq.url import URL, address
from anymq_rabbitmq.channels import ChannelNumbers, unbounded_writes
from anymq_rabbitmq.errors import (
    AUTH_ERRORS,
    CONNECTION_ERRORS,
    channel_failed,
    down,
    lost,
    queue_down,
    safe,
    start_failed,
    where,
)
from anymq_rabbitmq.options import RabbitOptions
from anymq_rabbitmq.sockets import TrackedSockets

__all__ = ["CONNECTION_ERRORS", "Amqp", "amqp_url", "queue_down", "where"]

#: Seconds a failed start may spend closing what it opened.
_DISCARD_SECONDS = 5.0

#: Opening a channel while the connection is lost (aio-pika raises RuntimeError "not opened").
_CHANNEL_ERRORS: tuple[type[BaseException], ...] = (*CONNECTION_ERRORS, RuntimeError)

#: Seconds between attempts on a queue that is still starting after a server restart.
_DOWN_PAUSE = 0.1

T = TypeVar("T")

#: The longest vhost name the AMQP 0-9-1 connection.open frame takes (pamqp's check).
_VHOST_MAX = 127


def amqp_url(url: URL, settings: RabbitOptions) -> str:
    """The URL aio-pika gets: credentials and vhost from the anymq URL, our own query."""
    if url.scheme not in ("amqp", "amqps"):
        raise ConfigError(f"the rabbitmq backend serves amqp:// and amqps://, not {url.scheme}://")
    if len(url.hosts) > 1:
        raise ConfigError("the rabbitmq backend connects to one host; put a load balancer in front")
    host = url.host or "localhost"
    port = url.port or (5671 if url.scheme == "amqps" else 5672)
    user = quote(url.username or "guest", safe="")
    password = quote(url.password if url.password is not None else "guest", safe="")
    if len(url.path) > _VHOST_MAX:
        # pamqp refuses it inside aio-pika's connect loop, which retries until the timeout
        raise ConfigError(
            f"RabbitMQ vhost {url.path!r} is {len(url.path)} characters; AMQP allows at most "
            f"{_VHOST_MAX}. The vhost is the URL path after host:port (amqp://host:port/<vhost>, "
            "empty means '/'): fix the URL"
        )
    vhost = quote(url.path or "/", safe="")
    query: dict[str, str] = {
        "heartbeat": str(settings.heartbeat),
        "reconnect_interval": str(settings.reconnect_interval),
    }
    if settings.name:
        query["name"] = settings.name
    query.update(settings.ssl)
    return f"{url.scheme}://{user}:{password}@{address(host, port)}/{vhost}?{urlencode(query)}"


class _Connection(aio_pika.RobustConnection):
    """aio-pika's robust connection; each new AMQP connection never drops a Close-Ok."""

    async def _on_connected(self) -> None:
        if self.transport is not None:
            unbounded_writes(self.transport.connection)
        await super()._on_connected()


class Amqp:
    """The broker's connection: opens channels and maps connection failures."""

    def __init__(self, url: URL, settings: RabbitOptions) -> None:
        self.url = url
        self.settings = settings
        self._target = amqp_url(url, settings)
        self.conn: AbstractRobustConnection | None = None
        self.closed = False
        self.numbers = ChannelNumbers()

    async def start(self) -> None:
        """Connect within ``connect_timeout``; on any failure or cancel, close what was opened.

        aio-pika's robust connection runs a reconnect task from its first attempt on; if
        it is not closed, that task retries forever (a socket and tasks per attempt) and
        swallows the cancellation ``asyncio.run()`` sends at exit, so the program hangs.
        """
        timeout = self.settings.connect_timeout
        conn = _Connection(make_url(self._target))
        sockets = TrackedSockets(tls=self.url.scheme == "amqps")
        conn.kwargs["transport_factory"] = sockets  # handed on to aiormq.Connection
        try:
            async with asyncio.timeout(timeout):
                await conn.connect(timeout=timeout)
        except BaseException as exc:
            await _discard(conn, sockets)
            error = start_failed(self.url, exc, timeout)
            if error is None:
                raise  # a cancel or an unexpected error: unchanged
            raise error from exc
        self.conn = conn

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.conn is not None:
            with contextlib.suppress(Exception):
                await self.conn.close()

    def _live(self) -> AbstractRobustConnection:
        if self.closed or self.conn is None:
            raise ClosedError("the RabbitMQ connection is closed")
        return self.conn

    async def robust_channel(self, *, confirms: bool) -> AbstractRobustChannel:
        """A channel restored after reconnects (for producers and consumers)."""
        conn = self._live()

        async def open_() -> AbstractRobustChannel:
            # While reconnecting, wait for the new transport instead of failing at once.
            while True:
                await conn.ready()
                if conn.transport is not None:
                    break
                await asyncio.sleep(0.05)
            number = self.numbers.next(conn.transport.connection)
            channel = conn.channel(channel_number=number, publisher_confirms=confirms)
            self.numbers.keep(number, channel)  # aio-pika reopens it under this number
            try:
                await channel.initialize()
            except BaseException:
                with contextlib.suppress(Exception):
                    await channel.close()
                raise
            return channel

        with self.dropped("open a channel", RuntimeError):
            opened: AbstractRobustChannel = await self._bounded(open_(), "open a channel")
        return opened

    async def raw_channel(self, *, confirms: bool = False) -> aiormq.abc.AbstractChannel:
        """A plain aiormq channel on the current connection; dropped after use."""
        conn = self._live()

        async def open_() -> aiormq.abc.AbstractChannel:
            # A connection that is going down (server restart) refuses new channels: wait
            # for the robust connection to come back instead of failing at once.
            while True:
                await conn.ready()
                transport = conn.transport
                if transport is not None and not transport.connection.is_closed:
                    connection = transport.connection
                    try:
                        return await connection.channel(
                            channel_number=self.numbers.next(connection),
                            publisher_confirms=confirms,
                        )
                    except _CHANNEL_ERRORS:
                        if self.closed:
                            raise
                await asyncio.sleep(0.05)

        with self.dropped("open a channel", RuntimeError):
            channel: aiormq.abc.AbstractChannel = await self._bounded(open_(), "open a channel")
        return channel

    @contextlib.asynccontextmanager
    async def admin(self, *, confirms: bool = False) -> AsyncIterator[aiormq.abc.AbstractChannel]:
        """A plain channel for one admin step; closed afterwards, even after a 404."""
        channel = await self.raw_channel(confirms=confirms)
        try:
            with self.dropped("finish a step"):
                yield channel
        finally:
            if not channel.is_closed:
                with contextlib.suppress(Exception):
                    await channel.close()

    async def while_down(self, attempt: Callable[[], Awaitable[T]], what: str) -> T:
        """``attempt()`` again while RabbitMQ says its queue is down (see :func:`queue_down`),
        within ``publish_timeout``; then BrokerUnavailable. Each attempt opens its own channel
        (the 404 closed the last one). Any other error is raised as it is."""
        loop = asyncio.get_running_loop()
        timeout = self.settings.publish_timeout
        deadline = loop.time() + timeout
        while True:
            try:
                return await attempt()
            except amqp_errors.ChannelNotFoundEntity as exc:
                if not queue_down(exc):
                    raise
                if loop.time() >= deadline:
                    raise down(
                        self.url,
                        f"RabbitMQ at {where(self.url)} did not let us {what} within "
                        f"{timeout:g}s: {safe(exc, self.url)} (the server is still starting "
                        "its queues after a restart)",
                    ) from exc
            await asyncio.sleep(_DOWN_PAUSE)

    async def _bounded(self, awaitable: Any, what: str) -> Any:
        timeout = self.settings.publish_timeout
        try:
            async with asyncio.timeout(timeout):
                return await awaitable
        except TimeoutError as exc:
            raise down(
                self.url, f"RabbitMQ at {where(self.url)} did not let us {what} within {timeout:g}s"
            ) from exc

    @contextlib.contextmanager
    def dropped(self, what: str, *also: type[BaseException]) -> Iterator[None]:
        """Map a connection lost (or access refused) anywhere inside, e.g. a consumer start
        spanning several steps while the server restarts; ``also`` are more errors that mean
        a lost connection at this step. anymq errors pass as they are."""
        try:
            yield
        except AnyMQError:
            raise
        except (*CONNECTION_ERRORS, *AUTH_ERRORS, *also) as exc:
            raise (channel_failed(self.url, exc, what) or lost(self.url, exc, what)) from exc

    def down(self, message: str) -> BrokerUnavailable:
        """BrokerUnavailable for this server (host and port set for callers that retry)."""
        return down(self.url, message)

    def unavailable(self, exc: BaseException, what: str) -> BrokerUnavailable:
        return lost(self.url, exc, what)


async def _discard(conn: AbstractRobustConnection, sockets: TrackedSockets) -> None:
    """Close a connection that never became ours, even while being cancelled.

    The close runs in its own task and is awaited to the end (bounded), so a second
    cancel (Ctrl-C twice) cannot leave the reconnect task alive. Then every socket the
    attempts opened is closed: one whose handshake a cancel cut off is not reachable
    through ``conn`` (see sockets.py).
    """
    closing = asyncio.ensure_future(conn.close())
    try:
        await asyncio.wait({closing}, timeout=_DISCARD_SECONDS)
    except asyncio.CancelledError:
        await asyncio.wait({closing}, timeout=_DISCARD_SECONDS)
        raise
    finally:
        sockets.close_all()
        if closing.done() and not closing.cancelled():
            closing.exception()  # retrieved: a failed close of a dead connection is expected
