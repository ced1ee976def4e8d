"""``anymq.App``: handlers registered with a decorator, run on any broker URL.

    app = anymq.App()

    @app.handler("orders", group="billing", concurrency=10, publish_to="invoices")
    async def bill(order: Order) -> Invoice: ...

    await app.run(url="kafka://localhost:9092")      # or: anymq run service:app --url ...

The same app runs in a test on ``memory://`` (a real log, not a mock): ``async with app:``
connects, subscribes every handler and handles messages in the background until the block
ends. Everything that can be checked without a broker is checked at registration; what
needs the broker's capabilities (dead letters for undecodable payloads) when it starts.

A stop (:meth:`App.stop`, SIGTERM/SIGINT in :meth:`App.run`, the end of ``async with``)
is graceful: nothing new is fetched or started, the handlers in flight get up to
``drain_timeout`` seconds to finish and be settled, then the consumers leave their groups.
A cancelled :meth:`App.run` is the crash: nothing is drained, nothing settled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

from anymq.client import Broker, Producer, connect
from anymq.errors import ClosedError, ConfigError
from anymq.features import Feature
from anymq.runtime import health as health_http
from anymq.runtime.handler import Handler, HandlerFunction, make_handler
from anymq.runtime.health import HandlerHealth, Health
from anymq.runtime.retry import Backoff, ErrorAction
from anymq.runtime.runner import Runner
from anymq.runtime.signals import graceful
from anymq.serializers import Serializer

F = TypeVar("F", bound=HandlerFunction)
log = logging.getLogger("anymq.runtime")

#: How long :meth:`App.health` waits for the broker's lag figure before leaving it out.
LAG_TIMEOUT = 2.0


def _drain_timeout(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ConfigError(f"drain_timeout must be a number of seconds >= 0, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"drain_timeout must be finite, got {value!r}")
    return float(value)


class App:
    """A set of handlers and the broker connection they share (one producer for every
    ``publish_to``). ``url`` and ``options`` go to :func:`anymq.connect` when it starts;
    a URL given to :meth:`run` / :meth:`start` (or ``anymq run --url``) wins.
    ``drain_timeout``: seconds a stop waits for the handlers in flight (0: none)."""

    def __init__(
        self, url: str | None = None, *, drain_timeout: float = 30.0, **options: Any
    ) -> None:
        self.url = url
        self._drain = _drain_timeout(drain_timeout)
        self.options = options
        self.handlers: list[Handler] = []
        self.runners: list[Runner] = []
        self._broker: Broker | None = None
        self._done: asyncio.Future[None] | None = None
        self._error: BaseException | None = None
        self._draining = False

    @property
    def drain_timeout(self) -> float:
        """Seconds a graceful stop waits for the handlers in flight before it cancels them
        (their messages are then redelivered); ConfigError for a negative one."""
        return self._drain

    @drain_timeout.setter
    def drain_timeout(self, value: float) -> None:
        self._drain = _drain_timeout(value)

    # -- registration ------------------------------------------------------------------
    def handler(
        self,
        topic: str,
        *,
        group: str | None = None,
        concurrency: int = 1,
        buffer: int | None = None,
        serializer: str | Serializer | None = "json",
        publish_to: str | None = None,
        on_poison: str = "dead_letter",
        retry: Backoff | None = None,
        max_deliveries: int | Literal["unlimited"] | None = None,
        on_error: Mapping[type[BaseException], ErrorAction] | None = None,
        **consumer_options: Any,
    ) -> Callable[[F], F]:
        """Register ``async def handle(payload[, msg])`` for ``topic`` in ``group``.

        ``concurrency`` handlers run at once, never two with the same key; ``buffer``
        fetched messages (default: max(concurrency, 100)) may wait to start. The payload
        is the body decoded by ``serializer`` into the first parameter's annotation
        (``serializer=None`` with no annotation, or a ``bytes`` one: the raw body; a
        :class:`~anymq.Received` annotation: the message itself). With ``publish_to`` a
        result other than None is sent there under the incoming key. ``on_poison``: a
        payload that does not decode goes to the dead-letter topic (``"dead_letter"``) or
        is nacked without requeue (``"reject"``).

        A handler exception retries the message after ``retry``'s backoff (default: at
        once), its key's later messages waiting; the delivery number ``max_deliveries``
        (default 5 with ``retry``, else no limit; ``anymq.UNLIMITED``: never) that fails
        goes to the dead-letter topic with the exception. ``on_error`` maps exception
        classes to ``"retry"``, ``"dead_letter"`` (at once) or ``"drop"`` (ack); the most
        specific class wins.
        Other keywords (``start``, ``dead_letter_topic``, backend options) go to
        :meth:`Broker.consumer`.
        """

        def register(function: F) -> F:
            if self._done is not None:
                raise ConfigError(
                    f"cannot register {getattr(function, '__qualname__', function)!r}: "
                    "the app is running; register handlers before it starts"
                )
            handler = make_handler(
                function,
                topic,
                group=group,
                concurrency=concurrency,
                buffer=buffer,
                serializer=serializer,
                publish_to=publish_to,
                on_poison=on_poison,
                retry=retry,
                max_deliveries=max_deliveries,
                on_error=on_error,
                consumer_options=consumer_options,
            )
            for other in self.handlers:
                if (other.topic, other.group) == (topic, group):
                    raise ConfigError(
                        f"handler {handler.name}: {other.name} already handles topic "
                        f"{topic!r} in group {group!r}; two handlers in one group would "
                        "each get only part of the messages. Use another group"
                    )
            self.handlers.append(handler)
            return function

        return register

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def broker(self) -> Broker:
        """The running app's broker connection (e.g. to send test messages through)."""
        if self._broker is None:
            raise ClosedError("the app is not running; use it with 'async with app:'")
        return self._broker

    async def start(self, url: str | None = None) -> None:
        """Connect, subscribe every handler, and start handling in the background.

        When this returns every subscription is live: a message sent after it is handled.
        """
        if self._done is not None:
            raise ConfigError("the app is already running")
        if not self.handlers:
            raise ConfigError("the app has no handlers; register one with @app.handler(...)")
        self._done = asyncio.get_running_loop().create_future()
        self._error = None
        self._draining = False
        broker = connect(url or self.url, **self.options)
        self._broker = broker
        try:
            await broker.start()
            producer = None
            if any(h.publish_to is not None for h in self.handlers):
                producer = broker.producer()
                await producer.start()
            for handler in self.handlers:
                await self._subscribe(broker, handler, producer)
        except BaseException:
            await self._close()
            raise
        for runner in self.runners:
            runner.start()

    async def _subscribe(self, broker: Broker, handler: Handler, producer: Producer | None) -> None:
        options = dict(handler.consumer_options)
        options.setdefault("prefetch", handler.concurrency + handler.buffer)
        if handler.settle.poison == "dead_letter":
            broker.capabilities.require(
                Feature.DEAD_LETTER,
                detail=f"handler {handler.name}: a payload that does not decode would be "
                "lost; pass on_poison='reject' to the handler to nack it without requeue",
            )
            if options.get("dead_letter_topic") is None:
                options["dead_letter_topic"] = broker.driver.dead_letter_topic(
                    handler.topic, handler.group
                )
        policy = handler.settle
        if policy.dead_letters:
            broker.capabilities.require(
                Feature.DEAD_LETTER,
                detail=f"handler {handler.name}: a message whose retries ran out (after "
                "max_deliveries) or whose on_error rule says 'dead_letter' would be lost",
            )
            options["max_deliveries"] = policy.max_deliveries
            if options.get("dead_letter_topic") is None:
                options["dead_letter_topic"] = broker.driver.dead_letter_topic(
                    handler.topic, handler.group
                )
        consumer = broker.consumer(handler.topic, handler.group, **options)
        await consumer.start()
        self.runners.append(Runner(handler, consumer, producer, self._failed))

    def _failed(self, error: BaseException) -> None:
        """A runner died (its broker failed): the app stops and :meth:`run` raises it."""
        if self._error is None:
            self._error = error
        if self._done is not None and not self._done.done():
            self._done.set_result(None)

    def stop(self) -> None:
        """Ask a running app to stop: :meth:`run` returns (or the ``async with`` block's
        app stops handling). Safe to call from a handler."""
        if self._done is not None and not self._done.done():
            self._done.set_result(None)

    async def _close(self, drain: float = 0.0) -> None:
        """Stop the runners (draining up to ``drain`` seconds, all at once), then close the
        consumers (they leave their groups) and the connection."""
        self._draining = True
        runners = list(self.runners)
        loop = asyncio.get_running_loop()
        started = loop.time()
        in_flight = sum(r.in_flight for r in runners)
        try:
            await asyncio.gather(*(runner.stop(drain) for runner in runners))
        finally:
            self.runners = []
            if drain and in_flight:
                left = sum(r.in_flight for r in runners)
                log.info(
                    "drained %d of %d handlers in flight in %.2fs%s",
                    in_flight - left,
                    in_flight,
                    loop.time() - started,
                    f"; {left} cancelled, their messages will be redelivered" if left else "",
                )
            broker, self._broker = self._broker, None
            self._done = None
            if broker is not None:
                await broker.close()  # unsettled messages go back to their groups

    async def close(self) -> None:
        """Stop gracefully (see :attr:`drain_timeout`) and disconnect; raises the error a
        runner died of, if one did."""
        await self._close(self.drain_timeout)
        error, self._error = self._error, None
        if error is not None:
            raise error

    async def run(
        self,
        url: str | None = None,
        *,
        signals: bool = True,
        health_port: int | None = None,
        health_host: str = "127.0.0.1",
    ) -> None:
        """Run until :meth:`stop` is called, SIGTERM or SIGINT arrives (with ``signals``,
        in the main thread; a second signal exits the process at once with status 128 +
        its number), the task is cancelled (no drain: like a crash, what is in flight is
        redelivered), or a handler's consumer fails (that error is raised). With
        ``health_port`` (0: any free one, see :attr:`health_address`) ``/healthz`` and
        ``/readyz`` are served on ``health_host`` while it runs."""
        with graceful(self.stop) if signals else contextlib.nullcontext(False):
            server = None
            try:
                if health_port is not None:  # up first: /readyz says 503 while connecting
                    server = await health_http.serve(self.health, health_host, health_port)
                    host, port = server.sockets[0].getsockname()[:2]
                    self.health_address = (host, port)
                    log.info("health checks on http://%s:%d/readyz", host, port)
                await self.start(url)
                done = self._done
                assert done is not None
                try:
                    await done
                except BaseException:
                    await self._close()  # cancelled: no drain, like a crash
                    self._error = None
                    raise
                await self.close()  # /readyz answers 503 (draining) meanwhile
            finally:
                if server is not None:
                    server.close()
                    self.health_address = None

    health_address: tuple[str, int] | None = None
    """Where :meth:`run` serves the health checks, once it does."""

    async def health(self) -> Health:
        """A snapshot for readiness and liveness checks: connected, each handler subscribed
        with its in-flight, waiting and retrying counts, the partitions it holds and its
        group's lag where the backend tells (lag: ``describe_group``, at most
        :data:`LAG_TIMEOUT` seconds, else None), and the last error."""
        broker = self._broker
        running = self._done is not None
        connected = broker is not None and broker._started and not broker._closed
        by_handler = {id(r.handler): r for r in self.runners}
        handlers = []
        for handler in self.handlers:
            runner = by_handler.get(id(handler))
            if runner is None:
                handlers.append(
                    HandlerHealth(
                        name=handler.name,
                        topic=handler.topic,
                        group=handler.group,
                        subscribed=False,
                        in_flight=0,
                        waiting=0,
                        retrying=0,
                        partitions=None,
                        lag=None,
                        unsettled=None,
                        last_error=None,
                    )
                )
                continue
            consumer = runner.consumer
            subscribed = consumer._started and not consumer._closed and not runner.draining
            lag = unsettled = None
            if connected and broker is not None and handler.group is not None:
                try:
                    async with asyncio.timeout(LAG_TIMEOUT):
                        info = await broker.describe_group(handler.topic, handler.group)
                    lag, unsettled = info.backlog, info.in_flight
                except Exception as exc:
                    log.debug("no lag for %s: %s", handler.name, exc)
            handlers.append(
                HandlerHealth(
                    name=handler.name,
                    topic=handler.topic,
                    group=handler.group,
                    subscribed=subscribed,
                    in_flight=runner.in_flight,
                    waiting=runner.lanes.waiting,
                    retrying=len(runner.retrying),
                    partitions=consumer.driver.partitions_held() if subscribed else None,
                    lag=lag,
                    unsettled=unsettled,
                    last_error=runner.last_error,
                )
            )
        error = self._error
        return Health(
            running=running,
            connected=connected,
            draining=self._draining,
            handlers=tuple(handlers),
            last_error=None if error is None else f"{type(error).__name__}: {error}",
        )

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            await self.close()
        else:  # the block failed: no drain
            await self._close()
            self._error = None

    def __repr__(self) -> str:
        state = "running" if self._done is not None else "stopped"
        names = ", ".join(h.name for h in self.handlers)
        return f"<anymq.App [{names}] {state}>"
