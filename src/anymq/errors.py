"""One exception tree for every backend, so callers catch the same errors whatever the URL.

    AnyMQError
    ├── ConfigError (ValueError)            bad URL, option or argument
    │   └── UnknownBackend                  no installed plugin for the scheme
    ├── BrokerUnavailable (ConnectionError) cannot reach the broker in bounded time
    ├── UnsupportedFeature                  the backend does not declare this capability
    ├── TopicNotFound (LookupError)         the topic does not exist (and auto-create is off)
    ├── InvalidTopicName (ValueError)       the name breaks the backend's naming rule
    ├── MessageTooLarge (ValueError)        body + key + headers (or key + headers) too large
    ├── SerializationError (TypeError)      a value is not bytes and no serializer is set
    ├── PublishError                        the broker refused or did not confirm a message
    └── ClosedError (RuntimeError)          the client was used after close()

Backends map their own exceptions onto this tree with ``raise ... from exc`` so the
original cause stays visible in tracebacks while callers only need ``anymq`` imports.
"""

from __future__ import annotations


class AnyMQError(Exception):
    """Base of every error raised by anymq and its backends."""


class ConfigError(AnyMQError, ValueError):
    """A URL, option or argument is wrong; the message says what and how to fix it."""


class UnknownBackend(ConfigError):
    """No backend is installed for a URL scheme."""

    def __init__(
        self, scheme: str, installed: list[str], hint: str | None = None, *, loadable: bool = False
    ) -> None:
        self.scheme = scheme
        self.installed = installed
        known = ", ".join(f"{s}://" for s in installed) or "none"
        if loadable:
            message = f"the anymq backend for {scheme}:// is missing a dependency"
        else:
            message = f"no anymq backend for scheme {scheme!r}; installed: {known}"
        if hint:
            message += f". {hint}"
        super().__init__(message)


class BrokerUnavailable(AnyMQError, ConnectionError):
    """The broker did not answer within the connect timeout."""

    def __init__(self, message: str, *, host: str | None = None, port: int | None = None) -> None:
        self.host = host
        self.port = port
        super().__init__(message)


class UnsupportedFeature(AnyMQError):
    """A capability the backend does not declare was asked for.

    Raised instead of silently doing something else, so code that relies on a guarantee
    fails at the call that needs it.
    """

    def __init__(self, feature: str, backend: str, detail: str | None = None) -> None:
        self.feature = feature
        self.backend = backend
        message = f"the {backend} backend does not support {feature}"
        if detail:
            message += f": {detail}"
        super().__init__(message)


class TopicNotFound(AnyMQError, LookupError):
    """The topic does not exist."""

    def __init__(self, topic: str, backend: str, hint: str | None = None) -> None:
        self.topic = topic
        self.backend = backend
        message = (
            f"topic {topic!r} does not exist on {backend}; create it first with "
            f"`await broker.create_topic({topic!r})`"
        )
        if hint:
            message += f" ({hint})"
        super().__init__(message)


class InvalidTopicName(AnyMQError, ValueError):
    """A topic or group name breaks the backend's naming rule."""

    def __init__(self, name: str, rule: str, *, what: str = "topic") -> None:
        self.name = name
        self.rule = rule
        super().__init__(f"invalid {what} name {name!r}: {rule}")


class MessageTooLarge(AnyMQError, ValueError):
    """A message (or its key + headers) is over the backend's size limit; nothing was sent.

    ``part`` is "message" for value + key + headers, "metadata" for key + headers alone,
    where a backend carries them apart from the body under a smaller limit.
    """

    def __init__(
        self, size: int, limit: int, backend: str, *, part: str = "message", why: str = ""
    ) -> None:
        self.size = size
        self.limit = limit
        self.part = part
        if part == "metadata":
            text = (
                f"key + headers of {size} bytes are over the {backend} limit of {limit} bytes "
                f"for them{f' ({why})' if why else ''}; nothing was sent. Move large data "
                "into the message body"
            )
        else:
            text = (
                f"message of {size} bytes (value + key + headers) is over the {backend} limit "
                f"of {limit} bytes; nothing was sent. Store large payloads elsewhere and send "
                "a reference"
            )
        super().__init__(text)


class SerializationError(AnyMQError, TypeError):
    """A value could not be turned into bytes (or back)."""


class PublishError(AnyMQError):
    """The broker refused a message or did not confirm it."""


class ClosedError(AnyMQError, RuntimeError):
    """A broker, producer or consumer was used after it was closed."""
