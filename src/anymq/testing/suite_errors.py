"""Contract: the same failure raises the same anymq class on every backend (issue 12).

An unreachable broker is BrokerUnavailable (retriable), a wrong password is
AuthenticationError (not retriable), a confirm that never comes is DeliveryUncertain
(retriable) and a missing topic is TopicNotFound (not retriable), whatever the URL. Three
fixtures describe the broker under test; the defaults work for any
URL (``anymq compare`` runs the suite with them), a backend's test class pins them:

``unreachable_url``
    The URL under test aimed at a local port nothing listens on (its hosts, and any
    ``http(s)://`` option such as SQS's ``endpoint_url``). None for a backend with no
    network (memory://): the test then proves it connects without one.
``checks_credentials``
    True: the broker under test must refuse a wrong password with AuthenticationError.
    False: it checks none (memory://, moto_server, a PLAINTEXT Kafka listener), so a wrong
    password is accepted or refused as a setting it cannot use (ConfigError). None
    (default, unknown): any of these. Never, in any case, a retriable error such as
    BrokerUnavailable: retrying cannot fix a password.

``stalled_broker``
    A :class:`~anymq.testing.stall.Stalled`: the URL under test through a
    :class:`~anymq.testing.stall.StallProxy` that can hold the broker's answers back, with
    the backend's option for a short confirm timeout (``stalled(url, 1.0,
    publish_timeout="1")``). A send while stalled must raise DeliveryUncertain
    (retriable) within that timeout. None (default, and under ``anymq compare``): the
    stall cannot be provoked here (an in-process backend has no confirm to miss; Kafka's
    clients reconnect to the advertised address past any proxy), so the test records why
    and proves a send is confirmed with a receipt instead.
"""

from __future__ import annotations

import contextlib
import socket
import time
from dataclasses import replace
from urllib.parse import urlsplit

import pytest

import anymq
from anymq.testing.context import TestContext
from anymq.testing.stall import Stalled

WRONG_PASSWORD = "anymq-Wr0ng-pa55word"
#: Backends that run in-process: no address to be unreachable at.
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


def _is_http(value: str) -> bool:
    return value.startswith(("http://", "https://"))


class ErrorContract:
    """One class per failure, on every backend."""

    @pytest.fixture
    def unreachable_url(self, anymq_url: str) -> str | None:
        if anymq.connect(anymq_url).capabilities.in_process:
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

    @pytest.fixture
    def stalled_broker(self) -> Stalled | None:
        return None

    async def test_a_confirm_that_never_comes_is_delivery_uncertain(
        self, ctx: TestContext, stalled_broker: Stalled | None
    ) -> None:
        if stalled_broker is None:
            in_process = ctx.capabilities.in_process
            why = "in-process: no confirm to miss" if in_process else "no stall proxy: not provoked"
            ctx.observe("errors.confirm_timeout", why)
            async with ctx.broker() as broker, broker.producer() as producer:
                topic = await ctx.topic(broker)
                receipt = await producer.send(topic, b"confirmed")
            assert isinstance(receipt, anymq.Receipt), receipt
            assert receipt.topic == topic
            return
        proxy, timeout = stalled_broker.proxy, stalled_broker.timeout
        topic = ctx.name("uncertain")
        async with proxy, anymq.connect(stalled_broker.url) as broker:
            await broker.create_topic(topic)
            try:
                async with broker.producer() as producer:
                    await producer.send(topic, b"confirmed")  # the path works unstalled
                    proxy.stall()
                    started = time.monotonic()
                    with pytest.raises(anymq.AnyMQError) as info:
                        await producer.send(topic, b"unknown")
                    took = time.monotonic() - started
                    proxy.resume()
            finally:
                proxy.resume()
                with contextlib.suppress(anymq.AnyMQError):
                    await broker.delete_topic(topic)
        error = info.value
        assert type(error) is anymq.DeliveryUncertain, f"expected DeliveryUncertain: {error!r}"
        assert isinstance(error, anymq.PublishError), "code catching a failed send catches it"
        assert error.retriable is True
        assert took < timeout + SLACK, f"DeliveryUncertain after {took:.1f}s, timeout {timeout:g}s"
        ctx.observe("errors.confirm_timeout", f"DeliveryUncertain after {took:.1f} s")

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
