"""The contract suite on SQS + SNS over HTTP (moto_server locally, or real AWS via ANYMQ_SQS_URL).

Capabilities are per connection, so the suite runs twice: standard topics (partitioned ones
are FIFO), and ``?fifo=true`` (every topic FIFO, no delays). Both take the same topic names:
the ``.fifo`` suffix of FIFO resources is the backend's business.

On an emulator the suite runs against a moto_server of its own that holds a FIFO message
group while a message of it is in flight, as AWS does (moto 5.2 hands one group to two
members at once: compose/moto_fifo.py). Against AWS it runs on the URL as given.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.sqs.helpers import aws_like

import anymq
from anymq.testing import ContractSuite
from anymq.testing.stall import Stalled, stalled

pytestmark = pytest.mark.sqs


def _checks_credentials(url: str) -> bool:
    """False on an emulator: moto_server checks no credentials unless started with
    INITIAL_NO_AUTH_ACTION_COUNT (tests/sqs/test_errors.py runs one that does)."""
    return "endpoint_url" not in anymq.URL.parse(url).query


def _stalled(url: str) -> Stalled | None:
    """A proxy in front of the HTTP endpoint (moto_server); None for real AWS (HTTPS, whose
    certificate a local proxy cannot present). One attempt, so botocore does not retry."""
    if "endpoint_url" not in anymq.URL.parse(url).query:
        return None
    return stalled(url, 1.0, read_timeout="1", max_attempts="1")


def _with(url: str, **options: str) -> str:
    extra = "&".join(f"{k}={v}" for k, v in options.items())
    return f"{url}{'&' if '?' in url else '?'}{extra}" if extra else url


@pytest.fixture(scope="module")
def sqs_fifo_url(sqs_url: str) -> Iterator[str]:
    """A killed member's messages come back after the visibility timeout: 5 s (not the
    default 30 s) keeps that within the suite's delivery timeout; the heartbeat keeps
    what live members hold."""
    with aws_like(sqs_url) as url:
        yield _with(url, visibility_timeout="5")


class _SQSContract(ContractSuite):
    """What both queue kinds share: credentials and the stall proxy depend on the endpoint."""

    @pytest.fixture
    def checks_credentials(self, anymq_url: str) -> bool:
        return _checks_credentials(anymq_url)

    @pytest.fixture
    def stalled_broker(self, anymq_url: str) -> Stalled | None:
        return _stalled(anymq_url)


class TestSQSContract(_SQSContract):
    quiet_period = 0.3
    delivery_timeout = 20.0

    @pytest.fixture
    def anymq_url(self, sqs_fifo_url: str) -> str:
        return sqs_fifo_url


class TestSQSFifoContract(_SQSContract):
    quiet_period = 0.3
    delivery_timeout = 20.0

    @pytest.fixture
    def anymq_url(self, sqs_fifo_url: str) -> str:
        return _with(sqs_fifo_url, fifo="true")
