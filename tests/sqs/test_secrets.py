"""SQS credentials never show: settings repr, endpoint_url user info, botocore DEBUG logs."""

from __future__ import annotations

import logging
from urllib.parse import quote

import pytest

import anymq
from anymq.url import URL
from tests.sqs.helpers import unique

pytestmark = [pytest.mark.sqs, pytest.mark.anymq]

SECRET = "S3cr3t-Value-9f2"


def _endpoint(sqs_url: str) -> str:
    settings = anymq.connect(sqs_url).driver.settings  # type: ignore[attr-defined]
    return str(settings.endpoint_url)


def test_settings_repr_hides_the_secret_key() -> None:
    broker = anymq.connect(f"sqs://AKIDEXAMPLE:{SECRET}@127.0.0.1:4566?region=us-east-1")
    settings = broker.driver.settings  # type: ignore[attr-defined]
    assert settings.secret_key == SECRET
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings)
    assert SECRET not in repr(broker)


@pytest.mark.parametrize(
    "endpoint",
    [
        f"http://user:{SECRET}@127.0.0.1:4566",
        f"http://AKIDEXAMPLE:{SECRET}@127.0.0.1:4566/",
        f"https://:{SECRET}@sqs.us-east-1.amazonaws.com",
    ],
)
def test_credentials_in_endpoint_url_are_refused_without_echo(endpoint: str) -> None:
    for text in (
        f"sqs://?endpoint_url={quote(endpoint, safe='')}&region=us-east-1",
        f"sqs://?endpoint_url={endpoint}&region=us-east-1",
    ):
        url = URL.parse(text)
        assert SECRET not in str(url)
        assert SECRET not in repr(url)
        with pytest.raises(anymq.ConfigError) as info:
            anymq.connect(text)
        assert SECRET not in str(info.value)
        assert "endpoint_url" in str(info.value)
        assert "sqs://KEY:SECRET@" in str(info.value)
    with pytest.raises(anymq.ConfigError) as info:
        anymq.connect("sqs://?region=us-east-1", endpoint_url=endpoint)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    "endpoint",
    [f"ftp://user:{SECRET}@127.0.0.1:4566", f"http://user:{SECRET}@"],
)
def test_invalid_endpoint_url_error_does_not_echo_its_password(endpoint: str) -> None:
    with pytest.raises(anymq.ConfigError) as info:
        anymq.connect("sqs://?region=us-east-1", endpoint_url=endpoint)
    assert SECRET not in str(info.value)


def test_endpoint_url_credentials_are_refused_before_comparing_with_the_host() -> None:
    with pytest.raises(anymq.ConfigError, match="endpoint_url") as info:
        anymq.connect(
            "sqs://127.0.0.1:4566?region=us-east-1",
            endpoint_url=f"http://user:{SECRET}@127.0.0.1:9999",
        )
    assert SECRET not in str(info.value)


async def test_endpoint_url_password_never_reaches_botocore_logs(
    sqs_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    host = _endpoint(sqs_url).split("://", 1)[1]
    with caplog.at_level(logging.DEBUG), pytest.raises(anymq.ConfigError) as info:
        async with anymq.connect(
            "sqs://?region=us-east-1", endpoint_url=f"http://user:{SECRET}@{host}"
        ) as broker:
            await broker.list_topics()
    assert SECRET not in str(info.value)
    assert SECRET not in caplog.text


async def test_debug_logs_of_a_real_connect_never_show_the_secret(
    sqs_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    endpoint = _endpoint(sqs_url)
    host = endpoint.split("://", 1)[1]
    url = f"sqs://AKIDEXAMPLE:{quote(SECRET, safe='')}@{host}?region=us-east-1"
    topic = unique("secret")
    with caplog.at_level(logging.DEBUG):
        async with anymq.connect(url, auto_create_topics=True) as broker:
            assert await broker.create_topic(topic)
            async with broker.producer() as producer:
                await producer.send(topic, b"x")
            await broker.delete_topic(topic)
    records = caplog.records
    assert any(r.name.startswith("botocore") for r in records), "botocore logged nothing"
    for record in records:
        assert SECRET not in record.getMessage(), record.name
    assert SECRET not in caplog.text


def test_aws_secret_with_a_slash_must_be_percent_encoded() -> None:
    # AWS secret keys often contain '/' and '+'.
    secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    with pytest.raises(anymq.ConfigError, match="percent-encoded") as info:
        anymq.connect(f"sqs://AKIDEXAMPLE:{secret}@127.0.0.1:4566?region=us-east-1")
    assert "wJalrXUtnFEMI" not in str(info.value)
    assert "K7MDENG" not in str(info.value)
    broker = anymq.connect(
        f"sqs://AKIDEXAMPLE:{quote(secret, safe='')}@127.0.0.1:4566?region=us-east-1"
    )
    settings = broker.driver.settings  # type: ignore[attr-defined]
    assert settings.secret_key == secret
    for text in (repr(settings), repr(broker), str(broker.url)):
        assert "K7MDENG" not in text


@pytest.mark.parametrize("tail", [f"/?password={SECRET}", f"/?x=1&token={SECRET}", f"/#{SECRET}"])
async def test_endpoint_url_with_a_query_or_fragment_is_refused_without_echo(
    sqs_url: str, tail: str, caplog: pytest.LogCaptureFixture
) -> None:
    """botocore logs the endpoint at DEBUG level, query included (issue 18: a
    ``?password=`` there reached the 'Endpoint provider result' line); SQS endpoints take
    no query, so it is refused before anything is sent."""
    endpoint = _endpoint(sqs_url) + tail
    with caplog.at_level(logging.DEBUG), pytest.raises(anymq.ConfigError) as info:
        async with anymq.connect("sqs://?region=us-east-1", endpoint_url=endpoint) as broker:
            await broker.list_topics()
    assert "endpoint_url" in str(info.value)
    assert SECRET not in str(info.value)
    assert SECRET not in caplog.text


async def test_marker_sweep_every_position(sqs_url: str) -> None:
    """The issue 18 sweep: the marker as the secret key (moto accepts any), in
    endpoint_url's user info or query, under the option names of other tools (refused), and
    unreachable: never in a repr, an error or a DEBUG line (botocore's included)."""
    from tests.marker import MARKER, sweep
    from tests.sqs.helpers import own_moto

    host = _endpoint(sqs_url).split("://", 1)[1]
    positions: list[tuple[str, str, dict[str, object], str]] = [
        ("secret key, accepted", f"sqs://AKID:{MARKER}@{host}?region=us-east-1", {}, "connected"),
        (
            "secret key, unreachable",
            f"sqs://AKID:{MARKER}@127.0.0.1:1?region=us-east-1",
            {},
            "BrokerUnavailable",
        ),
        (
            "endpoint_url user info",
            "sqs://?region=us-east-1",
            {"endpoint_url": f"http://u:{MARKER}@{host}"},
            "ConfigError",
        ),
        (
            "endpoint_url query",
            "sqs://?region=us-east-1",
            {"endpoint_url": f"http://{host}/?password={MARKER}"},
            "ConfigError",
        ),
    ]
    for name in ("aws_secret_access_key", "secret_key", "password", "session_token"):
        positions.append(
            (f"?{name}=", f"{sqs_url}&{name}={MARKER}", {}, "ConfigError"),
        )
    with own_moto(INITIAL_NO_AUTH_ACTION_COUNT="0") as (port, _):
        positions.append(
            (
                "secret key, refused",
                f"sqs://AKIDWRONG:{MARKER}@127.0.0.1:{port}?region=us-east-1",
                {},
                "AuthenticationError",
            )
        )
        for label, url, options, expected in positions:
            outcome, leaks, logged = await sweep(url, connect_timeout=3, **options)
            assert outcome == expected, f"{label}: {outcome}"
            assert not leaks, f"{label}: the secret showed in {leaks[:2]}"
            if expected == "connected":
                assert logged > 20, "botocore logged nothing at DEBUG: the sweep saw nothing"
