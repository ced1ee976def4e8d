"""``anymq.App``: handlers registered with a decorator, run on any broker URL.

    app = anymq.App()

    @app.handler("orders", group="billing", concurrency=10, publish_to="invoices")
    async def bill(order: Order) -> Invoice: ...

    await app.run(url="kafka://localhost:9092")      # or: anymq run service:app --url ...

The same app runs in a test on ``memory://`` (a real log, not a mock): ``async with app:``
connects, subscribes every handler and handles messages in the background until the block
ends. Everything that can be checked without a broker is checked at registration; what
needs the broker's capabilities (dead letters for undecodable payloads) when it starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self, TypeVar

from anymq.client import Broker, Producer, connect
from anymq.errors import ClosedError, ConfigError
from anymq.features import Feature
from anymq.runtime.handler import Handler, HandlerFunction, make_handler
from anymq.runtime.runner import Runner
from anymq.serializers import Serializer

F = TypeVar("F", bound=HandlerFunction)


class App:
    """A set of handlers and the broker connection they share (one producer for every
    ``publish_to``). ``url`` and ``options`` go to :func:`anymq.connect` when it starts;
    a URL given to :meth:`run` / :meth:`start` (or ``anymq run --url``) wins."""

    def __init__(self, url: str | None = None, **options: Any) -> None:
        self.url = url
        self.options = options
        self.handlers: list[Handler] = []
        self.runners: list[Runner] = []
        self._broker: Broker | None = None
        self._done: asyncio.Future[None] | None = None
        self._error: BaseException | None = None

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
        is nacked without requeue (``"reject"``). Other keywords (``start``,
        ``max_deliveries``, ``dead_letter_topic``, backend options) go to
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

    async def _close(self) -> None:
        runners, self.runners = self.runners, []
        for runner in runners:
            await runner.stop()
        broker, self._broker = self._broker, None
        self._done = None
        if broker is not None:
            await broker.close()  # unsettled messages go back to their groups

    async def close(self) -> None:
        """Stop handling and disconnect; raises the error a runner died of, if one did."""
        await self._close()
        error, self._error = self._error, None
        if error is not None:
            raise error

    async def run(self, url: str | None = None) -> None:
        """Run until :meth:`stop` is called, the task is cancelled, or a handler's
        consumer fails (that error is raised)."""
        await self.start(url)
        try:
            done = self._done
            assert done is not None
            await done
        finally:
            await self.close()

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
        else:
            await self._close()
            self._error = None

    def __repr__(self) -> str:
        state = "running" if self._done is not None else "stopped"
        names = ", ".join(h.name for h in self.handlers)
        return f"<anymq.App [{names}] {state}>"
