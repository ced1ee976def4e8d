"""One exception tree for every backend, so callers catch the same errors whatever the URL.

    AnyMQError                                 retriable?
    ├── ConfigError (ValueError)               no   bad URL, option or argument
    │   ├── UnknownBackend                     no   no installed plugin for the scheme
    │   └── AuthenticationError                no   the broker refused the credentials
    ├── BrokerUnavailable (ConnectionError)    yes  broker unreachable or connection lost
    ├── UnsupportedFeature                     no   the backend lacks this capability
    ├── TopicNotFound (LookupError)            no   no such topic (and auto-create is off)
    ├── InvalidTopicName (ValueError)          no   the name breaks the backend's rule
    ├── MessageTooLarge (ValueError)           no   body + key + headers over the limit
    ├── SerializationError (TypeError)         no   not bytes and no serializer is set
    ├── PublishError                           no   the broker refused a message
    │   └── DeliveryUncertain                  yes  no confirm: stored or not, unknown
    ├── BrokerError                            (*)  the broker failed a request otherwise
    └── ClosedError (RuntimeError)             no   the client was used after close()

    (*) per error: the backend's own verdict (e.g. throttled: yes; server bug: no)

``retriable`` means "the same call, unchanged, may succeed if tried again": a class default
every instance may override (e.g. a PublishError for too few in-sync replicas is retriable).
A retried DeliveryUncertain send may store the message twice (at-least-once).

AuthenticationError is a ConfigError, not a BrokerUnavailable: the broker is up, the
credentials (part of the URL or options) are wrong, and a loop that retries
BrokerUnavailable must not spin on a wrong password. DeliveryUncertain is a PublishError
so handlers written for "the send failed" still catch it.

Backends map their own exceptions onto this tree in one module per plugin (its
``errors.py``) with ``raise ... from exc`` so the original cause stays visible in tracebacks
while callers only need ``anymq`` imports.
"""

from __future__ import annotations


class AnyMQError(Exception):
    """Base of every error raised by anymq and its backends."""

    retriable: bool = False
    """Whether the same call may succeed if retried unchanged (class default, per instance)."""

    def __init__(self, *args: object, retriable: bool | None = None) -> None:
        super().__init__(*args)
        if retriable is not None:
            self.retriable = retriable


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


class AuthenticationError(ConfigError):
    """The broker refused the credentials (wrong password, unknown user or key, no access).

    Retrying with the same credentials cannot help; fix them in the URL or options.
    """


class BrokerUnavailable(AnyMQError, ConnectionError):
    """The broker could not be reached, or the connection was lost, within the timeout."""

    retriable = True

    def __init__(self, message: str, *, host: str | None = None, port: int | None = None) -> None:
        self.host = host
        self.port = port
        super().__init__(message)

    @classmethod
    def at(cls, address: str, message: str) -> BrokerUnavailable:
        """``message`` about ``address`` (``host:port``, or a comma list: its first), whose
        host and port are kept as attributes; a backend passes its address, never a URL."""
        host, _, port = address.split(",")[0].rpartition(":")
        return cls(message, host=host or None, port=int(port) if port.isdigit() else None)


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
    """The broker refused a message (or, as DeliveryUncertain, did not confirm it)."""


class DeliveryUncertain(PublishError):
    """A send whose outcome is unknown: the broker may or may not have stored the message.

    Raised when the confirm did not arrive in time or the connection was lost after the
    message was written. Sending again is safe only where duplicates are (at-least-once).
    """

    retriable = True


class BrokerError(AnyMQError):
    """The broker failed a request for a reason no other class names (a server-side error,
    throttling, a refused admin call); ``retriable`` comes from the backend's own verdict."""


class ClosedError(AnyMQError, RuntimeError):
    """A broker, producer or consumer was used after it was closed."""
