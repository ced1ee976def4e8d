"""SQS's error map (plugins/anymq_sqs/errors.py) against real endpoints and botocore's shapes.

Issue 12: a refused login was ConfigError here (BrokerUnavailable on RabbitMQ), a send
without an answer was BrokerUnavailable (PublishError on Kafka), and unknown failures fell
back to a bare AnyMQError. The shared moto_server checks no credentials, so the login test
runs its own moto with IAM checks on (INITIAL_NO_AUTH_ACTION_COUNT=0). A send whose answer
never comes is a contract test (ErrorContract, a proxy holding moto's answers back).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.exceptions import (  # type: ignore[import-untyped]
    ClientError,
    EndpointConnectionError,
    ReadTimeoutError,
)

import anymq
from anymq_sqs.errors import translate
from tests.sqs.helpers import own_moto

pytestmark = [pytest.mark.sqs, pytest.mark.anymq]

ENDPOINT = "127.0.0.1:4566"


def _client_error(code: str, status: int, operation: str = "SendMessage") -> ClientError:
    """A ClientError as botocore builds it from an error response."""
    return ClientError(
        {
            "Error": {"Code": code, "Message": f"{code} said the server"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


@pytest.mark.parametrize(
    "code",
    [
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
        "AccessDenied",
        # moto_server with IAM checks answers SQS's JSON protocol with an XML body, which
        # botocore cannot parse: the code is then the bare HTTP status
        "403",
    ],
)
@pytest.mark.parametrize("publishing", [True, False])
def test_refused_credentials_are_authentication_error(code: str, publishing: bool) -> None:
    error = translate(
        _client_error(code, 403), endpoint=ENDPOINT, doing="connecting", publishing=publishing
    )
    assert type(error) is anymq.AuthenticationError
    assert error.retriable is False


def test_no_answer_to_a_send_is_delivery_uncertain_elsewhere_unavailable() -> None:
    timeout = ReadTimeoutError(endpoint_url=f"http://{ENDPOINT}/")
    sent = translate(timeout, endpoint=ENDPOINT, doing="sending", publishing=True)
    assert type(sent) is anymq.DeliveryUncertain
    assert sent.retriable is True
    listed = translate(timeout, endpoint=ENDPOINT, doing="listing", publishing=False)
    assert type(listed) is anymq.BrokerUnavailable
    refused = EndpointConnectionError(endpoint_url=f"http://{ENDPOINT}/")
    # nothing was written: the send can be retried without a duplicate
    assert type(translate(refused, endpoint=ENDPOINT, publishing=True)) is anymq.BrokerUnavailable


def test_other_failures_are_broker_error_retriable_when_transient() -> None:
    throttled = translate(_client_error("ThrottlingException", 400), endpoint=ENDPOINT)
    assert type(throttled) is anymq.BrokerError
    assert throttled.retriable is True
    broken = translate(_client_error("InternalFailure", 500), endpoint=ENDPOINT)
    assert broken.retriable is True
    odd = translate(_client_error("SomethingNew", 400), endpoint=ENDPOINT)
    assert type(odd) is anymq.BrokerError
    assert odd.retriable is False
    sending = translate(_client_error("SomethingNew", 400), endpoint=ENDPOINT, publishing=True)
    assert type(sending) is anymq.PublishError


@pytest.fixture(scope="module")
def checking_moto() -> Iterator[str]:
    """Our own moto_server that checks credentials (the shared one must stay open)."""
    with own_moto(INITIAL_NO_AUTH_ACTION_COUNT="0") as (port, _process):
        yield f"http://127.0.0.1:{port}"


async def test_wrong_keys_are_authentication_error_on_a_checking_endpoint(
    checking_moto: str,
) -> None:
    url = f"sqs://AKIDWRONG:Wr0ng-s3cret@?endpoint_url={checking_moto}&region=us-east-1"
    with pytest.raises(anymq.AnyMQError) as info:
        async with anymq.connect(url, connect_timeout=3) as broker:
            await broker.list_topics()
    assert type(info.value) is anymq.AuthenticationError, repr(info.value)
    assert info.value.retriable is False
    assert "Wr0ng-s3cret" not in str(info.value)
