"""aiokafka exceptions mapped onto anymq's error tree, in one place.

Callers catch ``anymq`` errors only; the original aiokafka exception stays as ``__cause__``.
"""

from __future__ import annotations

from aiokafka import errors as kerr  # type: ignore[import-untyped]

from anymq.errors import (
    AnyMQError,
    BrokerUnavailable,
    ConfigError,
    MessageTooLarge,
    PublishError,
    TopicNotFound,
)

#: Errors that mean "the broker (or the partition leader) cannot be reached right now".
UNREACHABLE = (
    kerr.KafkaConnectionError,
    kerr.NodeNotReadyError,
    kerr.NoBrokersAvailable,
    kerr.RequestTimedOutError,
)


def unavailable(hosts: str, exc: BaseException, timeout: float | None = None) -> BrokerUnavailable:
    """BrokerUnavailable naming the bootstrap servers (never credentials)."""
    within = f" within {timeout:g}s" if timeout is not None else ""
    name = type(exc).__name__
    text = str(exc)
    detail = text if text.startswith(name) else f"{name}: {text}" if text else name
    host, _, port = hosts.split(",")[0].rpartition(":")
    return BrokerUnavailable(
        f"cannot connect to Kafka at {hosts}{within} ({detail}); check that the broker runs, "
        "advertises an address this machine can reach, and that security_protocol / SASL / "
        "TLS settings match its listener",
        host=host or None,
        port=int(port) if port.isdigit() else None,
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
            f"({type(exc).__name__}); nothing was confirmed"
        )
    if isinstance(exc, kerr.KafkaTimeoutError):
        return PublishError(
            f"Kafka did not confirm in time ({exc}); the message may or may not be stored"
        )
    if not publishing:
        return AnyMQError(f"Kafka error on {topic!r}: {type(exc).__name__}: {exc}")
    return PublishError(f"Kafka error: {type(exc).__name__}: {exc}")
