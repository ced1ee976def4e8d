"""Contract: a password never shows in DEBUG logs or errors, whatever the connect outcome."""

from __future__ import annotations

import logging
import traceback
from dataclasses import replace
from urllib.parse import quote

import pytest

import anymq
from anymq.testing.context import TestContext
from anymq.url import declared_secrets

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

    async def test_every_secret_option_stays_out_of_reprs_errors_and_logs(
        self, ctx: TestContext, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Each option the backend declares secret (``Option(secret=True)``), given in the
        URL's query or as a keyword, and a secret-named option it does not know (refused),
        never shows: not in repr(broker), str(url), an error with its causes, or a DEBUG
        line of any logger (the client libraries' included)."""
        url = anymq.URL.parse(ctx.url)
        base = url.render(hide_password=False)
        sep = "&" if "?" in base else "?"
        tries: list[tuple[str, dict[str, str]]] = [(f"{base}{sep}password={_SECRET}", {})]
        for name in sorted(declared_secrets(url.scheme)):
            tries.append((f"{base}{sep}{name}={quote(_SECRET, safe='')}", {}))
            tries.append((base, {name: _SECRET}))
        for text, options in tries:
            shown: list[str] = []
            caplog.clear()
            with caplog.at_level(logging.DEBUG):
                try:
                    broker = anymq.connect(text, connect_timeout=3, **options)
                    shown += [repr(broker), str(broker.url), repr(broker.url)]
                    async with broker:
                        await broker.list_topics()
                        async with broker.producer() as producer:
                            shown.append(repr(producer))
                except anymq.AnyMQError as exc:
                    shown += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
            where = f"the secret given as {text.split('?')[-1][:40]!r} {sorted(options)}"
            for record in caplog.records:
                assert _SECRET not in record.getMessage(), f"{record.name} logged {where}"
            assert _SECRET not in caplog.text, where
            for text_shown in shown:
                assert _SECRET not in text_shown, where
