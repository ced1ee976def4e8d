"""Contract: the same failure raises the same anymq class on every backend (issue 12).

An unreachable broker is BrokerUnavailable (retriable), a wrong password is
AuthenticationError (not retriable) and a missing topic is TopicNotFound (not retriable),
whatever the URL. Two fixtures describe the broker under test; the defaults work for any
URL (``anymq compare`` runs the suite with them), a backend's test class pins them:

``unreachable_url``
    The URL under test aimed at a local port nothing listens on (its hosts, and any
    ``http(s)://`` option such as SQS's ``endpoint_url``). None for a backend with no
    network (memory://, or any URL with neither a host nor an http(s) option, such as a
    file's): the test then proves it connects without one.
``checks_credentials``
    True: the broker under test must refuse a wrong password with AuthenticationError.
    False: it checks none (memory://, moto_server, a PLAINTEXT Kafka listener), so a wrong
    password is accepted or refused as a setting it cannot use (ConfigError). None
    (default, unknown): any of these. Never, in any case, a retriable error such as
    BrokerUnavailable: retrying cannot fix a password.

A confirm that never arrives (DeliveryUncertain) cannot be provoked on a shared broker
without stalling it for everybody, so it is not a contract test: tests/rabbitmq and
tests/sqs hold the answers back with a proxy (tests/stall.py), and Kafka, whose clients
connect to the advertised address past any proxy, has its map tested with aiokafka's
exceptions (tests/<backend>/test_errors.py).
"""

from __future__ import annotations

import socket
import time
from dataclasses import replace
from urllib.parse import urlsplit

import pytest

import anymq
from anymq.testing.context import TestContext

WRONG_PASSWORD = "anymq-Wr0ng-pa55word"
#: Backends that run in-process: no address to be unreachable at.
IN_PROCESS = frozenset({"memory"})
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


def unreachable(url: str) -> str:
    """``url`` aimed at a closed local port: its hosts and any http(s):// option."""
    parsed = anymq.URL.parse(url)
    port = closed_port()
    hosts = (("127.0.0.1", port),) if parsed.hosts else ()
    query = {
        key: (f"{urlsplit(value).scheme}://127.0.0.1:{port}" if _is_http(value) else value)
        for key, value in parsed.query.items()
    }
    return replace(parsed, hosts=hosts, query=query).render(hide_password=False)


def has_address(url: str) -> bool:
    """False for a URL with no host and no http(s) option (a file, an in-process store):
    nothing in it can be aimed at a closed port."""
    parsed = anymq.URL.parse(url)
    return bool(parsed.hosts) or any(_is_http(v) for v in parsed.query.values())


def _is_http(value: str) -> bool:
    return value.startswith(("http://", "https://"))


class ErrorContract:
    """One class per failure, on every backend."""

    @pytest.fixture
    def unreachable_url(self, anymq_url: str) -> str | None:
        if anymq.connect(anymq_url).backend in IN_PROCESS or not has_address(anymq_url):
            return None
        return unreachable(anymq_url)

    @pytest.fixture
    def checks_credentials(self) -> bool | None:
        return None

    async def test_unreachable_broker_is_broker_unavailable(
        self, ctx: TestContext, unreachable_url: str | None
    ) -> None:
        if unreachable_url is None:  # no network: nothing can be unreachable
            ctx.observe("errors.unreachable", "no network")
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
        self, ctx: TestContext, checks_credentials: bool | None
    ) -> None:
        refused: anymq.AnyMQError | None = None
        try:
            async with anymq.connect(
                with_password(ctx.url), connect_timeout=CONNECT_TIMEOUT
            ) as broker:
                await broker.list_topics()
        except anymq.AnyMQError as exc:
            refused = exc
        if checks_credentials:
            assert isinstance(refused, anymq.AuthenticationError), (
                f"expected AuthenticationError, got {refused!r}"
            )
        if isinstance(refused, anymq.AuthenticationError):
            assert checks_credentials is not False, f"{ctx.url} checks credentials after all"
            assert isinstance(refused, anymq.ConfigError)
        else:
            # No credentials checked: accepted, or refused as a setting this broker cannot use.
            ctx.observe("errors.credentials", "not checked")
            assert refused is None or type(refused) is anymq.ConfigError, (
                f"a password this broker does not check raised {type(refused).__name__}: {refused}"
            )
        if refused is not None:
            assert refused.retriable is False
            assert not isinstance(refused, anymq.BrokerUnavailable)
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
