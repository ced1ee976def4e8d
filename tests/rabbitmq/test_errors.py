"""RabbitMQ's error map (plugins/anymq_rabbitmq/errors.py) on a real server.

Issue 12: a refused login was BrokerUnavailable here (ConfigError on SQS) and a confirm
that never came was BrokerUnavailable (PublishError on Kafka). The confirm is held back by
a proxy in front of the shared server (tests/stall.py), so the server itself is untouched.
"""

from __future__ import annotations

import time
import uuid

import aiormq.exceptions as amqp_errors
import pytest

import anymq
from anymq_rabbitmq.errors import channel_failed, start_failed
from tests.rabbitmq.helpers import with_query
from tests.stall import StallProxy

pytestmark = [pytest.mark.rabbitmq, pytest.mark.anymq]

URL = anymq.URL.parse("amqp://app:S3cret-pw@127.0.0.1:5672/")


async def test_a_confirm_that_never_comes_is_delivery_uncertain(rabbitmq_url: str) -> None:
    target = anymq.URL.parse(rabbitmq_url)
    proxy = StallProxy(target.host or "127.0.0.1", target.port or 5672)
    topic = f"anymq-uncertain-{uuid.uuid4().hex[:8]}"
    async with proxy as port:
        url = anymq.URL.parse(rabbitmq_url)
        through = url.render(hide_password=False).replace(
            f"@{target.host}:{target.port or 5672}", f"@127.0.0.1:{port}"
        )
        async with anymq.connect(with_query(through, publish_timeout="1")) as broker:
            await broker.create_topic(topic)
            try:
                async with broker.producer() as producer:
                    await producer.send(topic, b"confirmed")
                    proxy.stall()
                    started = time.monotonic()
                    with pytest.raises(anymq.AnyMQError) as info:
                        await producer.send(topic, b"unknown")
                    took = time.monotonic() - started
                    proxy.resume()
            finally:
                proxy.resume()
                await broker.delete_topic(topic)
    assert type(info.value) is anymq.DeliveryUncertain, repr(info.value)
    assert isinstance(info.value, anymq.PublishError)
    assert info.value.retriable is True
    assert "may or may not" in str(info.value)
    assert took < 4, f"took {took:.1f}s with publish_timeout=1"


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
