"""nats-py exceptions -> anymq errors, in one place (``raise mapped(...) from exc``).

nats-py                                         anymq
NotFoundError code 10059 (stream not found),    TopicNotFound
NoStreamResponseError (no stream for a subject)
AuthorizationError, "authorization violation"   AuthenticationError
NoServersError, ConnectionClosedError,          BrokerUnavailable (host and port named)
StaleConnectionError, OSError
TimeoutError while sending                      DeliveryUncertain: the message may be stored
TimeoutError otherwise                          BrokerUnavailable
APIError (any other JetStream refusal)          PublishError when sending, else BrokerError;
                                                retriable when the server says 5xx
"""

from __future__ import annotations

from nats import errors as nerr
from nats.js import errors as jerr

from anymq.errors import (
    AnyMQError,
    AuthenticationError,
    BrokerError,
    BrokerUnavailable,
    DeliveryUncertain,
    PublishError,
    TopicNotFound,
)

BACKEND = "nats"
STREAM_NOT_FOUND = 10059
CONSUMER_NOT_FOUND = 10014
STREAM_IN_USE = 10058
CONSUMER_EXISTS = 10148
UNREACHABLE = (
    nerr.NoServersError,
    nerr.ConnectionClosedError,
    nerr.StaleConnectionError,
    nerr.ConnectionReconnectingError,
    OSError,
)


def code(exc: BaseException) -> int | None:
    """JetStream's error code of an APIError (None for anything else)."""
    return getattr(exc, "err_code", None) if isinstance(exc, jerr.APIError) else None


def mapped(
    exc: BaseException, address: str, *, topic: str | None = None, sending: bool = False
) -> AnyMQError:
    """The anymq error for ``exc`` raised while talking to the server at ``address``."""
    if topic is not None and (
        isinstance(exc, jerr.NoStreamResponseError) or code(exc) == STREAM_NOT_FOUND
    ):
        return TopicNotFound(topic, BACKEND)
    text = str(exc) or type(exc).__name__
    if isinstance(exc, nerr.AuthorizationError) or "authorization" in text.lower():
        return AuthenticationError(
            f"the NATS server at {address} refused the credentials: {text}; check the user, "
            "password or token in the URL"
        )
    if isinstance(exc, (nerr.TimeoutError, TimeoutError)):
        if sending:
            return DeliveryUncertain(
                f"no JetStream ack from {address} in time: the message may or may not be "
                "stored (publish_timeout)"
            )
        return BrokerUnavailable.at(address, f"the NATS server at {address} did not answer in time")
    if isinstance(exc, UNREACHABLE):
        return BrokerUnavailable.at(address, f"cannot reach the NATS server at {address}: {text}")
    retriable = isinstance(exc, jerr.APIError) and (exc.code or 0) >= 500
    if sending:
        return PublishError(f"JetStream refused the message: {text}", retriable=retriable)
    return BrokerError(f"JetStream request failed: {text}", retriable=retriable)
