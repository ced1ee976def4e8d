"""Contract: the same failure raises the same anymq class on every backend (issue 12).

An unreachable broker is BrokerUnavailable (retriable), a wrong password is
AuthenticationError (not retriable) and a missing topic is TopicNotFound (not retriable),
whatever the URL. Two fixtures describe the broker under test; a backend's test class
overrides them where its broker differs:

``unreachable_url``
    The URL under test aimed at a local port nothing listens on. None for a backend with
    no network (memory://): the test then proves it connects without one.
``wrong_password_url``
    The URL under test with a password the broker refuses. None where the broker under test
    does not check credentials (memory://, moto_server, a PLAINTEXT Kafka listener): the
    test then proves a wrong password is never taken for an outage — it is accepted or
    refused with a ConfigError, and never raises a retriable error.

A confirm that never arrives (DeliveryUncertain) cannot be provoked on a shared live broker
without stalling it for everybody; each plugin's error map is tested for it in
``tests/<backend>/test_errors.py`` with the exception its client library raises.
"""

from __future__ import annotations

import socket
import time
from dataclasses import replace

import pytest

import anymq
from anymq.testing.context import TestContext

WRONG_PASSWORD = "anymq-Wr0ng-pa55word"
#: connect_timeout for the failing connects, and the slack allowed beyond it.
CONNECT_TIMEOUT = 3.0
SLACK = 3.0


def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def with_password(url: str, password: str = WRONG_PASSWORD) -> str:
    """``url`` with ``password`` (and a user name, keeping the URL's own if it has one)."""
    parsed = anymq.URL.parse(url)
    return replace(parsed, username=parsed.username or "anymq", password=password).render(
        hide_password=False
    )


class ErrorContract:
    """One class per failure, on every backend."""

    @pytest.fixture
    def unreachable_url(self, anymq_url: str) -> str | None:
        parsed = anymq.URL.parse(anymq_url)
        return replace(parsed, hosts=(("127.0.0.1", closed_port()),)).render(hide_password=False)

    @pytest.fixture
    def wrong_password_url(self, anymq_url: str) -> str | None:
        return with_password(anymq_url)

    async def test_unreachable_broker_is_broker_unavailable(
        self, ctx: TestContext, unreachable_url: str | None
    ) -> None:
        if unreachable_url is None:  # no network: nothing can be unreachable
            ctx.outcome = "unsupported"
            async with anymq.connect(ctx.url, connect_timeout=CONNECT_TIMEOUT) as broker:
                await broker.list_topics()
            return
        started = time.monotonic()
        with pytest.raises(anymq.AnyMQError) as info:
            async with anymq.connect(unreachable_url, connect_timeout=CONNECT_TIMEOUT) as broker:
                await broker.list_topics()
        took = time.monotonic() - started
        error = info.value
        assert isinstance(error, anymq.BrokerUnavailable), (
            f"expected BrokerUnavailable, got {type(error).__name__}: {error}"
        )
        assert error.retriable is True
        assert took < CONNECT_TIMEOUT + SLACK, f"BrokerUnavailable only after {took:.1f}s"
        assert error.host == "127.0.0.1"
        assert isinstance(error.port, int)
        assert str(error.port) in str(error), "the message names the address tried"

    async def test_wrong_password_is_authentication_error(
        self, ctx: TestContext, wrong_password_url: str | None
    ) -> None:
        if wrong_password_url is not None:
            with pytest.raises(anymq.AnyMQError) as info:
                async with anymq.connect(
                    wrong_password_url, connect_timeout=CONNECT_TIMEOUT
                ) as broker:
                    await broker.list_topics()
            error = info.value
            assert isinstance(error, anymq.AuthenticationError), (
                f"expected AuthenticationError, got {type(error).__name__}: {error}"
            )
            assert isinstance(error, anymq.ConfigError)
            assert not isinstance(error, anymq.BrokerUnavailable)
            assert error.retriable is False
            assert WRONG_PASSWORD not in str(error)
            return
        # The broker under test does not check credentials: a wrong password is accepted,
        # or refused as a setting this broker cannot use — never as a retriable outage.
        ctx.outcome = "unsupported"
        refused: anymq.AnyMQError | None = None
        try:
            async with anymq.connect(
                with_password(ctx.url), connect_timeout=CONNECT_TIMEOUT
            ) as broker:
                await broker.list_topics()
        except anymq.AnyMQError as exc:
            refused = exc
        if refused is not None:
            assert isinstance(refused, anymq.ConfigError), (
                f"a password this broker does not check raised {type(refused).__name__}: "
                f"{refused}"
            )
            assert refused.retriable is False
            assert WRONG_PASSWORD not in str(refused)

    async def test_missing_topic_is_topic_not_found_everywhere(self, ctx: TestContext) -> None:
        missing = ctx.name("absent")
        async with ctx.broker() as broker:
            errors: list[anymq.TopicNotFound] = []
            async with broker.producer() as producer:
                with pytest.raises(anymq.TopicNotFound) as sent:
                    await producer.send(missing, b"lost?")
                errors.append(sent.value)
                with pytest.raises(anymq.TopicNotFound) as batch:
                    await producer.send_batch(missing, [b"a", b"b"])
                errors.append(batch.value)
            with pytest.raises(anymq.TopicNotFound) as consumed:
                async with broker.consumer(missing, ctx.group()):
                    pass
            errors.append(consumed.value)
            with pytest.raises(anymq.TopicNotFound) as described:
                await broker.describe_topic(missing)
            errors.append(described.value)
        for error in errors:
            assert error.topic == missing
            assert error.backend == ctx.backend
            assert error.retriable is False
            assert isinstance(error, LookupError)
