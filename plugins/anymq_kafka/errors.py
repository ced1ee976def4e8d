"""aiokafka exceptions mapped onto anymq's error tree, in one place.

Callers catch ``anymq`` errors only; the original aiokafka exception stays as ``__cause__``.

    aiokafka                                         anymq
    UnknownTopicOrPartitionError                     TopicNotFound
    MessageSizeTooLargeError, RecordTooLargeError    MessageTooLarge
    SASL / authorization failures (AUTH)             AuthenticationError
    IllegalSaslStateError, UnsupportedSaslMechanism  ConfigError (listener and URL disagree)
    KafkaConnectionError, NodeNotReady, NoBrokers    BrokerUnavailable
    RequestTimedOutError                             DeliveryUncertain when sending, else
                                                     BrokerUnavailable
    KafkaTimeoutError (no produce answer in time)    DeliveryUncertain
    NotEnoughReplicas(AfterAppend)Error              PublishError (retriable)
    invalid topic / partitions / config / policy     ConfigError
    anything else                                    PublishError when sending, else
                                                     BrokerError; retriable = aiokafka's

aiokafka's bootstrap logs the real reason a connection failed (e.g. a SASL error) and
raises only "Unable to bootstrap"; :func:`bootstrap_errors` keeps those logged errors so a
failed start can say "wrong password" instead of "unreachable".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence

from aiokafka import errors as kerr  # type: ignore[import-untyped]

from anymq.errors import (
    AnyMQError,
    AuthenticationError,
    BrokerError,
    BrokerUnavailable,
    ConfigError,
    DeliveryUncertain,
    MessageTooLarge,
    PublishError,
    TopicNotFound,
)

#: Errors meaning "the broker refused these credentials, or this identity has no access".
AUTH = (
    kerr.SaslAuthenticationFailed,
    kerr.AuthenticationFailedError,
    kerr.AuthenticationMethodNotSupported,
    kerr.TopicAuthorizationFailedError,
    kerr.GroupAuthorizationFailedError,
    kerr.ClusterAuthorizationFailedError,
    kerr.TransactionalIdAuthorizationFailed,
)
#: The client asked for SASL where the listener does not do it (or not this mechanism).
SASL_MISMATCH = (kerr.IllegalSaslStateError, kerr.UnsupportedSaslMechanismError)

#: Errors that mean "the broker (or the partition leader) cannot be reached right now".
UNREACHABLE = (
    kerr.KafkaConnectionError,
    kerr.NodeNotReadyError,
    kerr.NoBrokersAvailable,
    kerr.RequestTimedOutError,
)


@contextlib.contextmanager
def bootstrap_errors(hosts: str) -> Iterator[list[BaseException]]:
    """Collect the errors aiokafka logs (and swallows) while connecting to ``hosts``."""
    ours = {h.strip() for h in hosts.split(",")}
    seen: list[BaseException] = []

    def keep(record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and f"{args[0]}:{args[1]}" in ours:
            seen.extend(a for a in args[2:] if isinstance(a, kerr.KafkaError))
        return True

    logger = logging.getLogger("aiokafka")
    logger.addFilter(keep)
    try:
        yield seen
    finally:
        logger.removeFilter(keep)


async def start_client(
    start: Awaitable[object], stop: Callable[[], Awaitable[object]], hosts: str, timeout: float
) -> None:
    """Await an aiokafka client's ``start()`` within ``timeout``; on failure ``stop()`` it
    and raise the mapped error (a ValueError from the client is a setting it cannot use)."""
    started = time.monotonic()
    with bootstrap_errors(hosts) as seen:
        try:
            await asyncio.wait_for(start, timeout)
        except (kerr.KafkaError, OSError, TimeoutError) as exc:
            await stop()
            ran_out = time.monotonic() - started >= 0.9 * timeout
            raise start_failed(hosts, exc, timeout, seen, ran_out=ran_out) from exc
        except ValueError as exc:  # e.g. a compression codec whose library is missing
            await stop()
            raise ConfigError(f"cannot start the Kafka client: {exc}") from exc
        except asyncio.CancelledError:
            # older aiokafka leaves a half-started client's connections and metadata task
            # running when its start is cancelled: stop it before the cancel goes on
            await stop()
            raise


def start_failed(
    hosts: str,
    exc: BaseException,
    timeout: float,
    seen: Sequence[BaseException] = (),
    *,
    ran_out: bool = False,
) -> AnyMQError:
    """The error a failed client start raises: the logged SASL reason if there is one.
    ``ran_out``: the start took the whole ``timeout`` (aiokafka may then raise its own
    connection error rather than a TimeoutError)."""
    for cause in (*seen, exc):
        if isinstance(cause, AUTH):
            return _auth(hosts, cause)
        if isinstance(cause, SASL_MISMATCH):
            return ConfigError(
                f"Kafka at {hosts} refused SASL ({type(cause).__name__}): its listener does "
                "not do SASL, or not this sasl_mechanism. Drop user:password from the URL "
                "for a PLAINTEXT listener, or set security_protocol / sasl_mechanism to "
                "match the broker"
            )
    return unavailable(hosts, exc, timeout, ran_out=ran_out)


def _auth(hosts: str, exc: BaseException) -> AuthenticationError:
    return AuthenticationError(
        f"Kafka at {hosts} refused the credentials or access ({type(exc).__name__}); check "
        "the user name and password (kafka://user:password@host or sasl_username / "
        "sasl_password), sasl_mechanism, and the ACLs of that user"
    )


def unavailable(
    hosts: str, exc: BaseException, timeout: float | None = None, *, ran_out: bool = False
) -> BrokerUnavailable:
    """BrokerUnavailable naming the bootstrap servers (never credentials); "within N s"
    only when that time ran out (a refused connection fails at once)."""
    timed_out = ran_out or isinstance(exc, (TimeoutError, kerr.KafkaTimeoutError))
    within = f" within {timeout:g}s" if timeout is not None and timed_out else ""
    name = type(exc).__name__
    text = str(exc)
    detail = text if text.startswith(name) else f"{name}: {text}" if text else name
    return BrokerUnavailable.at(
        hosts,
        f"cannot connect to Kafka at {hosts}{within} ({detail}); check that the broker runs, "
        "advertises an address this machine can reach, and that security_protocol / SASL / "
        "TLS settings match its listener",
    )


def mapped(
    exc: BaseException,
    *,
    topic: str | None,
    hosts: str,
    size: int = 0,
    limit: int = 0,
    publishing: bool = True,
) -> AnyMQError:
    """The anymq error for an aiokafka exception raised while working on ``topic``."""
    if isinstance(exc, AnyMQError):
        return exc
    if isinstance(exc, kerr.UnknownTopicOrPartitionError) and topic is not None:
        return TopicNotFound(topic, "kafka")
    if isinstance(exc, (kerr.MessageSizeTooLargeError, kerr.RecordTooLargeError)):
        return MessageTooLarge(size, limit, "kafka")
    if isinstance(exc, AUTH):
        return _auth(hosts, exc)
    if isinstance(exc, (kerr.KafkaTimeoutError, kerr.RequestTimedOutError)) and publishing:
        return uncertain(topic, exc)
    if isinstance(exc, UNREACHABLE):
        return unavailable(hosts, exc)
    if isinstance(
        exc,
        (
            kerr.InvalidTopicError,
            kerr.InvalidPartitionsError,
            kerr.InvalidReplicationFactorError,
            kerr.InvalidConfigurationError,
            kerr.PolicyViolationError,
        ),
    ):
        return ConfigError(f"Kafka refused the request: {type(exc).__name__}: {exc}")
    if isinstance(exc, (kerr.NotEnoughReplicasError, kerr.NotEnoughReplicasAfterAppendError)):
        return PublishError(
            f"Kafka has too few in-sync replicas for {topic!r} to accept acks=all writes "
            f"({type(exc).__name__}); nothing was confirmed",
            retriable=True,
        )
    if isinstance(exc, kerr.KafkaTimeoutError):
        return BrokerUnavailable(f"Kafka did not answer in time on {topic!r} ({exc})")
    retriable = bool(getattr(exc, "retriable", False))
    if not publishing:
        return BrokerError(
            f"Kafka error on {topic!r}: {type(exc).__name__}: {exc}", retriable=retriable
        )
    return PublishError(f"Kafka error: {type(exc).__name__}: {exc}", retriable=retriable)


def uncertain(topic: str | None, exc: BaseException) -> DeliveryUncertain:
    """No produce answer in time: the broker may or may not have written the records."""
    return DeliveryUncertain(
        f"Kafka did not confirm a send to {topic!r} in time ({type(exc).__name__}: {exc}); "
        "the message may or may not be stored (raise request_timeout_ms to wait longer)"
    )
