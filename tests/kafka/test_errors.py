"""Kafka's error map (plugins/anymq_kafka/errors.py), fed the exceptions aiokafka raises.

A confirm that never comes and a SASL failure cannot be provoked on the shared PLAINTEXT
test broker, so the map is checked with aiokafka's own exception classes (issue 12: a
confirm timeout was PublishError here but BrokerUnavailable on RabbitMQ, a refused login
had no class, and unknown errors fell back to a bare AnyMQError).
"""

from __future__ import annotations

import logging

import pytest
from aiokafka import errors as kerr  # type: ignore[import-untyped]

import anymq
from anymq_kafka.errors import bootstrap_errors, mapped, start_failed

pytestmark = pytest.mark.kafka

HOSTS = "127.0.0.1:9092"


@pytest.mark.parametrize("raised", [kerr.KafkaTimeoutError(), kerr.RequestTimedOutError()])
def test_a_send_without_confirm_is_delivery_uncertain(raised: Exception) -> None:
    error = mapped(raised, topic="t", hosts=HOSTS)
    assert type(error) is anymq.DeliveryUncertain
    assert isinstance(error, anymq.PublishError)
    assert error.retriable is True
    assert "may or may not" in str(error)


@pytest.mark.parametrize(
    "raised",
    [
        kerr.SaslAuthenticationFailed(),
        kerr.AuthenticationFailedError(),
        kerr.TopicAuthorizationFailedError(),
        kerr.GroupAuthorizationFailedError(),
    ],
)
@pytest.mark.parametrize("publishing", [True, False])
def test_refused_credentials_or_access_are_authentication_error(
    raised: Exception, publishing: bool
) -> None:
    error = mapped(raised, topic="t", hosts=HOSTS, publishing=publishing)
    assert type(error) is anymq.AuthenticationError
    assert error.retriable is False


def test_unreachable_is_broker_unavailable_and_retriable() -> None:
    error = mapped(kerr.KafkaConnectionError("refused"), topic="t", hosts=HOSTS)
    assert type(error) is anymq.BrokerUnavailable
    assert error.retriable is True
    assert (error.host, error.port) == ("127.0.0.1", 9092)


def test_unknown_errors_are_broker_error_with_aiokafkas_verdict() -> None:
    retriable = mapped(
        kerr.CoordinatorNotAvailableError(), topic="t", hosts=HOSTS, publishing=False
    )
    assert type(retriable) is anymq.BrokerError
    assert retriable.retriable is True
    fatal = mapped(kerr.UnsupportedVersionError(), topic="t", hosts=HOSTS, publishing=False)
    assert type(fatal) is anymq.BrokerError
    assert fatal.retriable is False


def test_too_few_replicas_is_a_retriable_publish_error() -> None:
    error = mapped(kerr.NotEnoughReplicasError(), topic="t", hosts=HOSTS)
    assert type(error) is anymq.PublishError
    assert error.retriable is True


def test_a_sasl_failure_aiokafka_only_logs_is_found_at_start() -> None:
    """aiokafka's bootstrap logs the SASL error and raises "Unable to bootstrap"."""
    logger = logging.getLogger("aiokafka")
    with bootstrap_errors(HOSTS) as seen:
        # the call aiokafka's client.bootstrap() makes, for our host and for another one
        logger.error(
            'Unable connect to "%s:%s": %s', "127.0.0.1", 9092, kerr.SaslAuthenticationFailed()
        )
        logger.error(
            'Unable connect to "%s:%s": %s', "10.0.0.9", 9092, kerr.IllegalSaslStateError()
        )
    assert [type(e) for e in seen] == [kerr.SaslAuthenticationFailed]
    bootstrap = kerr.KafkaConnectionError("Unable to bootstrap from [...]")
    error = start_failed(HOSTS, bootstrap, 3.0, seen)
    assert type(error) is anymq.AuthenticationError
    assert type(start_failed(HOSTS, bootstrap, 3.0, [])) is anymq.BrokerUnavailable
