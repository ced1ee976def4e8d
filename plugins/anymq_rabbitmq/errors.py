"""aiormq / aio-pika exceptions mapped onto anymq's error tree, in one place.

    aiormq / aio-pika                                anymq
    ProbableAuthenticationError (403 at login),      AuthenticationError
    AuthenticationError, ChannelAccessRefused (403)
    connection.close 530 at connection.open          ConfigError (vhost missing or no access)
    AMQPConnectionError, OSError, TimeoutError,      BrokerUnavailable
    a channel closed under us (CONNECTION_ERRORS)
    404 "down or inaccessible" (queue_down)          BrokerUnavailable once the deadline passes
    404 "no exchange '<topic>'"                      TopicNotFound
    no confirm within publish_timeout                DeliveryUncertain
    basic.nack, basic.return, DeliveryError          PublishError
    connection closed over a frame (frame_too_large) PublishError

Which of these a step may retry (a lost connection within ``publish_timeout``) stays with
the step; what it finally raises is built here. Passwords are scrubbed from every message.
"""

from __future__ import annotations

import ssl
from urllib.parse import quote

import aiormq.exceptions as amqp_errors

from anymq.errors import (
    AnyMQError,
    AuthenticationError,
    BrokerUnavailable,
    ConfigError,
    DeliveryUncertain,
    PublishError,
)
from anymq.url import URL, address

BACKEND = "rabbitmq"

#: Errors that mean the connection (not one channel) is gone or unreachable.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    amqp_errors.AMQPConnectionError,
    amqp_errors.ChannelInvalidStateError,
    ConnectionError,
    OSError,
    TimeoutError,
)

#: What a failed connect may raise besides a refused login.
START_ERRORS: tuple[type[BaseException], ...] = (*CONNECTION_ERRORS, ssl.SSLError)

#: The broker refused the credentials (at login) or this user's access (on a channel).
AUTH_ERRORS: tuple[type[BaseException], ...] = (
    amqp_errors.ProbableAuthenticationError,
    amqp_errors.AuthenticationError,
    amqp_errors.ChannelAccessRefused,
)

#: The server closed the connection over a frame it could not take (frame_too_large, bad
#: syntax): the same publish would close it again, and with it every channel on it.
PROTOCOL_ERRORS: tuple[type[BaseException], ...] = (
    amqp_errors.ConnectionFrameError,
    amqp_errors.ConnectionSyntaxError,
    amqp_errors.ConnectionCommandInvalid,
    amqp_errors.ConnectionUnexpectedFrame,
)


def where(url: URL) -> str:
    host = url.host or "localhost"
    port = url.port or (5671 if url.scheme == "amqps" else 5672)
    return address(host, port)


def safe(exc: BaseException, url: URL) -> str:
    """``str(exc)`` without the URL's password (plain or percent-encoded)."""
    text = str(exc)
    if url.password:
        text = text.replace(url.password, "***").replace(quote(url.password, safe=""), "***")
    return text


def queue_down(exc: BaseException) -> bool:
    """RabbitMQ's 404 for a durable queue that exists but is not running (yet).

    Right after a node starts, its quorum queues and streams take a moment to come up;
    until then a passive declare or ``basic.consume`` is refused with NOT_FOUND "home node
    ... of durable queue ... is down or inaccessible" (seen on 3.10). That is transient, not
    a missing queue: callers retry it within their deadline, never report TopicNotFound.
    """
    return isinstance(exc, amqp_errors.ChannelNotFoundEntity) and "down or inaccessible" in str(exc)


def missing_exchange(exc: BaseException, topic: str) -> bool:
    """Whether a 404 channel.close is RabbitMQ's "no exchange '<topic>' in vhost ..."."""
    return isinstance(exc, amqp_errors.ChannelNotFoundEntity) and f"exchange '{topic}'" in str(exc)


def vhost_refused(exc: BaseException) -> bool:
    """RabbitMQ answered connection.open with connection.close (530 NOT_ALLOWED).

    aiormq reports that as an InvalidFrameError that keeps only the frame's repr, so the
    reply text is lost; at this step it means an unknown vhost or no access to it.
    """
    text = str(exc)
    return (
        isinstance(exc, amqp_errors.InvalidFrameError)
        and "Connection.OpenOk" in text
        and "Connection.Close" in text
    )


def down(url: URL, message: str) -> BrokerUnavailable:
    """BrokerUnavailable for this server (host and port set for callers that retry)."""
    return BrokerUnavailable(message, host=url.host, port=url.port)


def lost(url: URL, exc: BaseException, what: str) -> BrokerUnavailable:
    """The connection went away while trying to ``what``."""
    return down(url, f"lost RabbitMQ at {where(url)} while trying to {what}: " + _named(exc, url))


def refused(url: URL, exc: BaseException) -> AuthenticationError:
    """The login (or this user's access to a resource) was refused."""
    user = url.username or "guest"
    if isinstance(exc, amqp_errors.ChannelAccessRefused):
        return AuthenticationError(
            f"RabbitMQ at {where(url)} refused user {user!r} access: {safe(exc, url)}; grant "
            f"it with rabbitmqctl set_permissions -p {url.path or '/'!r} {user!r} ..."
        )
    return AuthenticationError(
        f"RabbitMQ at {where(url)} refused the login of user {user!r} on vhost "
        f"{url.path or '/'!r} (wrong password, unknown user or vhost, or guest from a "
        "remote host)"
    )


def start_failed(url: URL, exc: BaseException, timeout: float) -> AnyMQError | None:
    """The anymq error a failed connect raises (None: re-raise ``exc`` as it is)."""
    if isinstance(exc, AUTH_ERRORS):
        return refused(url, exc)
    if vhost_refused(exc):
        # A ConfigError, not BrokerUnavailable: the server is up and retrying cannot help.
        vhost = url.path or "/"
        user = url.username or "guest"
        return ConfigError(
            f"RabbitMQ at {where(url)} refused to open vhost {vhost!r} for user "
            f"{user!r}: the vhost does not exist or the user has no permissions on it. "
            "Fix the vhost in the URL path (amqp://host:port/<vhost>, empty means '/') or "
            f"create it: rabbitmqctl add_vhost {vhost!r} && rabbitmqctl set_permissions "
            f"-p {vhost!r} {user!r} '.*' '.*' '.*'"
        )
    if isinstance(exc, START_ERRORS):
        # "within N s" only when the time ran out: a refused connection fails at once
        within = f" within {timeout:g}s" if isinstance(exc, TimeoutError) else ""
        return down(
            url,
            f"cannot reach RabbitMQ at {where(url)}{within} "
            f"({_named(exc, url)}); is the server running and listening there? (e.g. "
            "`rabbitmq-server -detached`, or `docker run -p 5672:5672 rabbitmq`)",
        )
    return None


def channel_failed(url: URL, exc: BaseException, what: str) -> AnyMQError | None:
    """A step on a channel failed: the anymq error, or None for errors the step handles
    itself (a 404 means different things to different steps)."""
    if isinstance(exc, AnyMQError):
        return exc
    if isinstance(exc, AUTH_ERRORS):
        return refused(url, exc)
    if isinstance(exc, CONNECTION_ERRORS):
        return lost(url, exc, what)
    return None


def unconfirmed(url: URL, topic: str, timeout: float, exc: BaseException) -> DeliveryUncertain:
    """No confirm within ``publish_timeout``: RabbitMQ may or may not have the message."""
    return DeliveryUncertain(
        f"RabbitMQ at {where(url)} did not confirm a message for topic {topic!r} within "
        f"{timeout:g}s ({type(exc).__name__}); it may or may not have been stored"
    )


def publish_refused(topic: str, exc: BaseException) -> PublishError:
    """RabbitMQ refused a publish (nack, delivery error, a frame it closed the connection
    over, or an unexpected channel error); retrying the same publish would fail again."""
    if isinstance(exc, PROTOCOL_ERRORS):
        return PublishError(
            f"RabbitMQ closed the connection over a frame sent while publishing to "
            f"{topic!r}: {exc}; not retried, as the same frames would close it again "
            "(frame_too_large means the key + headers do not fit the header frame)"
        )
    if isinstance(exc, amqp_errors.DeliveryError):
        return PublishError(f"RabbitMQ refused a message for topic {topic!r}: {exc}")
    return PublishError(f"publishing to {topic!r} failed: {exc!r}")


def _named(exc: BaseException, url: URL) -> str:
    return f"{type(exc).__name__}: {safe(exc, url)}"
