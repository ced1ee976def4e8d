"""A registered handler: the function and everything checked about it at registration.

Every mistake that can be seen without a broker (a function that is not async, an unknown
serializer, a payload type that cannot be decoded into, a bad concurrency) is a
ConfigError at the decorator, naming the handler, so a service fails at import instead of
on its first message.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from anymq.errors import ConfigError
from anymq.message import Received
from anymq.runtime.payloads import Decoder, Encoder, decoder, encoder
from anymq.runtime.retry import DEFAULT_MAX_DELIVERIES, IMMEDIATE, UNLIMITED, Backoff, rules
from anymq.runtime.settle import SettlePolicy
from anymq.serializers import Serializer, resolve

HandlerFunction = Callable[..., Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Handler:
    """One ``@app.handler``: what it consumes, how it decodes, where its result goes."""

    function: HandlerFunction
    name: str
    topic: str
    group: str | None
    concurrency: int
    buffer: int
    """Fetched messages that may wait for a free slot (or for their key's lane)."""
    serializer: Serializer | None
    decode: Decoder | None
    """Body -> first argument; None: the handler takes the :class:`Received` itself."""
    wants_message: bool
    """The handler has a second parameter: it also gets the :class:`Received`."""
    publish_to: str | None
    encode: Encoder
    settle: SettlePolicy
    consumer_options: Mapping[str, Any] = field(default_factory=dict)


def _positive(name: str, value: object, where: str, hint: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where}: {name} must be an int >= 1{hint}, got {value!r}")
    return value


UNLIMITED_HINT = " or anymq.UNLIMITED (retry until it succeeds)"


def _name_of(what: str, value: object, where: str, *, optional: bool) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: {what} must be a non-empty str, got {value!r}")


def _parameters(function: HandlerFunction, where: str) -> tuple[Any, bool]:
    """(annotation of the payload parameter, whether a second parameter takes the message)."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: cannot read the handler's signature ({exc})") from exc
    positional = [
        p
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    required = [
        p
        for p in signature.parameters.values()
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if not positional or len(required) > 2 or any(p not in positional[:2] for p in required):
        raise ConfigError(
            f"{where}: a handler takes the payload, and optionally the message: "
            "'async def handle(payload)' or 'async def handle(payload, msg)'"
        )
    try:
        hints = typing.get_type_hints(function)
    except NameError as exc:
        raise ConfigError(
            f"{where}: cannot resolve the handler's annotations ({exc}); define the "
            "payload type at module level"
        ) from exc
    return hints.get(positional[0].name, Any), len(positional) > 1


def make_handler(
    function: HandlerFunction,
    topic: str,
    *,
    group: str | None,
    concurrency: int,
    buffer: int | None,
    serializer: str | Serializer | None,
    publish_to: str | None,
    on_poison: str,
    retry: Backoff | None = None,
    max_deliveries: int | Literal["unlimited"] | None = None,
    on_error: object = None,
    consumer_options: Mapping[str, Any],
) -> Handler:
    """Check a registration and build its :class:`Handler` (ConfigError on bad input)."""
    name = getattr(function, "__qualname__", None) or repr(function)
    where = f"handler {name}"
    if not inspect.iscoroutinefunction(function):
        raise ConfigError(
            f"{where} is not async: define it with 'async def' (the runtime awaits every "
            "handler so one slow message never blocks the others)"
        )
    _name_of("topic", topic, where, optional=False)
    _name_of("group", group, where, optional=True)
    _name_of("publish_to", publish_to, where, optional=True)
    concurrency = _positive("concurrency", concurrency, where)
    buffer = max(concurrency, 100) if buffer is None else _positive("buffer", buffer, where)
    if retry is not None and not isinstance(retry, Backoff):
        raise ConfigError(
            f"{where}: retry must be an anymq.Backoff or None, got {retry!r} "
            "(e.g. retry=anymq.Backoff(initial=0.5, max=30))"
        )
    limit: int | None
    if max_deliveries == UNLIMITED:
        limit = None
    elif max_deliveries is not None:
        limit = _positive("max_deliveries", max_deliveries, where, UNLIMITED_HINT)
    else:
        limit = DEFAULT_MAX_DELIVERIES if retry is not None else None
    table = rules(on_error, where)
    try:
        codec = resolve(serializer)
        settle = SettlePolicy(
            on_poison,  # type: ignore[arg-type]  # checked in __post_init__
            backoff=retry or IMMEDIATE,
            max_deliveries=limit,
            rules=table,
        )
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    payload, wants_message = _parameters(function, where)
    decode = None if payload is Received else decoder(payload, codec, where)
    return Handler(
        function=function,
        name=name,
        topic=topic,
        group=group,
        concurrency=concurrency,
        buffer=buffer,
        serializer=codec,
        decode=decode,
        wants_message=wants_message,
        publish_to=publish_to,
        encode=encoder(codec),
        settle=settle,
        consumer_options=dict(consumer_options),
    )
