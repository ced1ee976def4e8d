"""The contract suite on SQS + SNS over HTTP (moto_server locally, or real AWS via ANYMQ_SQS_URL).

Capabilities are per connection, so the suite runs twice: standard topics, and FIFO topics
(``?fifo=true``: KEY_ORDERING declared, topic names end in ``.fifo``).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

import anymq
from anymq.testing import ContractSuite
from anymq.testing.suite_errors import closed_port, with_password

pytestmark = pytest.mark.sqs


def _unreachable(url: str) -> str:
    """The URL with its endpoint on a local port nothing listens on."""
    parsed = anymq.URL.parse(url)
    port = closed_port()
    query = {**parsed.query, "endpoint_url": f"http://127.0.0.1:{port}"}
    hosts = (("127.0.0.1", port),) if parsed.hosts else ()
    return replace(parsed, hosts=hosts, query=query).render(hide_password=False)


def _wrong_password(url: str) -> str | None:
    """None on an emulator: moto_server checks no credentials unless started with
    INITIAL_NO_AUTH_ACTION_COUNT (tests/sqs/test_errors.py runs one that does)."""
    return None if "endpoint_url" in anymq.URL.parse(url).query else with_password(url)


def _with(url: str, **options: str) -> str:
    extra = "&".join(f"{k}={v}" for k, v in options.items())
    return f"{url}{'&' if '?' in url else '?'}{extra}" if extra else url


class TestSQSContract(ContractSuite):
    quiet_period = 0.3
    delivery_timeout = 20.0

    @pytest.fixture
    def anymq_url(self, sqs_url: str) -> str:
        return sqs_url

    @pytest.fixture
    def unreachable_url(self, anymq_url: str) -> str:
        return _unreachable(anymq_url)

    @pytest.fixture
    def wrong_password_url(self, anymq_url: str) -> str | None:
        return _wrong_password(anymq_url)


class TestSQSFifoContract(ContractSuite):
    quiet_period = 0.3
    delivery_timeout = 20.0
    topic_suffix = ".fifo"

    @pytest.fixture
    def anymq_url(self, sqs_url: str) -> str:
        return _with(sqs_url, fifo="true")

    @pytest.fixture
    def unreachable_url(self, anymq_url: str) -> str:
        return _unreachable(anymq_url)

    @pytest.fixture
    def wrong_password_url(self, anymq_url: str) -> str | None:
        return _wrong_password(anymq_url)
