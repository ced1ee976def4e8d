"""redis-py's exceptions mapped onto anymq's (one place, ``raise ... from exc``).

redis error                                     anymq error
AuthenticationError, NoPermissionError (ACL)    AuthenticationError (fix the URL)
ConnectionError, TimeoutError, BusyLoading      BrokerUnavailable (host=, port=); while
                                                sending: DeliveryUncertain (the XADD may
                                                have been applied before the answer was lost)
OutOfMemoryError, ReadOnlyError                 PublishError / BrokerError, retriable
any other ResponseError                         PublishError when sending, else BrokerError
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from redis import exceptions as rx

from anymq.errors import (
    AnyMQError,
    AuthenticationError,
    BrokerError,
    BrokerUnavailable,
    DeliveryUncertain,
    PublishError,
)
from anymq.url import address


def mapped(exc: rx.RedisError, where: tuple[str, int], *, sending: bool = False) -> AnyMQError:
    """The anymq error for ``exc`` raised while talking to the server at ``where``."""
    host, port = where
    server = f"Redis at {address(host, port)}"
    if isinstance(exc, (rx.AuthenticationError, rx.AuthorizationError, rx.NoPermissionError)):
        return AuthenticationError(
            f"{server} refused the credentials or command ({exc}); fix user:password in the URL"
        )
    if isinstance(exc, (rx.ConnectionError, rx.TimeoutError)):
        if sending:
            return DeliveryUncertain(
                f"{server} did not confirm the send ({exc}): it may or may not be stored"
            )
        return BrokerUnavailable(f"cannot reach {server}: {exc}", host=host, port=port)
    retriable = isinstance(exc, (rx.OutOfMemoryError, rx.ReadOnlyError))
    if sending:
        return PublishError(f"{server} refused the message: {exc}", retriable=retriable)
    return BrokerError(f"{server} failed: {exc}", retriable=retriable)


@contextlib.contextmanager
def errors(where: tuple[str, int], *, sending: bool = False) -> Iterator[None]:
    """Map redis-py errors raised inside the block."""
    try:
        yield
    except rx.RedisError as exc:
        raise mapped(exc, where, sending=sending) from exc
