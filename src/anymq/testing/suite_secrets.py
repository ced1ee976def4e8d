"""Contract: a password never shows in DEBUG logs or errors, whatever the connect outcome."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

import anymq
from anymq.testing.context import TestContext

_SECRET = "Zq9-s3cr3t-Pa55"


class SecretsContract:
    """Client libraries log at DEBUG level; what anymq hands them must not carry a password."""

    async def test_password_never_in_debug_logs_or_errors(
        self, ctx: TestContext, caplog: pytest.LogCaptureFixture
    ) -> None:
        url = anymq.URL.parse(ctx.url)
        # The broker may accept this password (memory, moto) or refuse it (RabbitMQ): the
        # logs and the error must stay clean either way.
        text = replace(url, password=_SECRET).render(hide_password=False)
        shown: list[str] = []
        with caplog.at_level(logging.DEBUG):
            try:
                broker = anymq.connect(text, connect_timeout=5)
                shown.append(repr(broker))
                async with broker:
                    await broker.list_topics()
            except anymq.AnyMQError as exc:
                shown += [str(exc), repr(exc)]
        for record in caplog.records:
            assert _SECRET not in record.getMessage(), f"{record.name} logged the password"
        assert _SECRET not in caplog.text
        for text_shown in shown:
            assert _SECRET not in text_shown

    async def test_unencoded_slash_in_password_is_refused_without_echo(
        self, ctx: TestContext, caplog: pytest.LogCaptureFixture
    ) -> None:
        url = anymq.URL.parse(ctx.url)
        # "user:12345/<secret>@host" reads as host "user", port 12345, path "<secret>@host".
        text = f"{url.scheme}://user:12345/{_SECRET}@{url.host or 'localhost'}"
        with caplog.at_level(logging.DEBUG), pytest.raises(anymq.ConfigError) as info:
            async with anymq.connect(text) as broker:
                await broker.list_topics()
        assert "percent-encoded" in str(info.value)
        assert _SECRET not in str(info.value)
        assert _SECRET not in caplog.text
