"""RabbitMQ's error map (plugins/anymq_rabbitmq/errors.py) with aiormq's exceptions.

Issue 12: a refused login was BrokerUnavailable here (ConfigError on SQS) and a confirm
that never came was BrokerUnavailable (PublishError on Kafka). The confirm timeout is a
contract test (ErrorContract, through anymq.testing.stall's proxy); this file checks the
rest of the map.
"""

from __future__ import annotations

import aiormq.exceptions as amqp_errors
import pytest

import anymq
from anymq_rabbitmq.errors import channel_failed, start_failed

pytestmark = [pytest.mark.rabbitmq, pytest.mark.anymq]

URL = anymq.URL.parse("amqp://app:S3cret-pw@127.0.0.1:5672/")


def test_refused_login_and_access_are_authentication_error() -> None:
    login = start_failed(URL, amqp_errors.ProbableAuthenticationError("ACCESS_REFUSED"), 3.0)
    assert type(login) is anymq.AuthenticationError
    assert login.retriable is False
    access = channel_failed(
        URL, amqp_errors.ChannelAccessRefused(403, "ACCESS_REFUSED - no write to 'x'"), "send"
    )
    assert type(access) is anymq.AuthenticationError
    assert "S3cret-pw" not in str(login) + str(access)


def test_a_lost_connection_is_retriable_broker_unavailable() -> None:
    error = channel_failed(URL, ConnectionResetError("reset by S3cret-pw"), "declare")
    assert type(error) is anymq.BrokerUnavailable
    assert error.retriable is True
    assert (error.host, error.port) == ("127.0.0.1", 5672)
    assert "S3cret-pw" not in str(error)
    # a 404 means different things to different steps: left to the step
    assert channel_failed(URL, amqp_errors.ChannelNotFoundEntity(404, "no queue"), "x") is None
