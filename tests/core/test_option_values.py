"""Option values keep their meaning: strict booleans and timeouts > 0 on every backend.

Options are parsed by ``anymq.connect()`` before anything connects, so no broker is needed.
"""

from __future__ import annotations

import pytest

import anymq

URLS = {
    "memory": "memory://options",
    "kafka": "kafka://127.0.0.1:9092",
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672/",
    "sqs": "sqs://127.0.0.1:4566?region=us-east-1",
}

#: Boolean broker options of each backend.
BOOLEANS = [
    ("memory", "auto_create_topics"),
    ("rabbitmq", "auto_create_topics"),
    ("rabbitmq", "no_verify_ssl"),
    ("sqs", "auto_create_topics"),
    ("sqs", "fifo"),
    ("kafka", "ssl_check_hostname"),
    ("kafka", "enable_idempotence"),
]

#: Timeout options (seconds) of each backend: 0 is nonsense for all of them.
TIMEOUTS = [
    ("memory", "connect_timeout"),
    ("kafka", "connect_timeout"),
    ("kafka", "metadata_timeout"),
    ("kafka", "join_timeout"),
    ("rabbitmq", "connect_timeout"),
    ("rabbitmq", "publish_timeout"),
    ("rabbitmq", "reconnect_interval"),
    ("sqs", "connect_timeout"),
]


@pytest.mark.parametrize(("backend", "name"), BOOLEANS)
@pytest.mark.parametrize("value", ["nope", "maybe", "", "2", "tru", "enabled"])
def test_boolean_option_refuses_other_words(backend: str, name: str, value: str) -> None:
    with pytest.raises(anymq.ConfigError, match=name) as info:
        anymq.connect(URLS[backend], **{name: value})
    assert "true or false" in str(info.value)


@pytest.mark.parametrize(("backend", "name"), BOOLEANS)
def test_boolean_option_refuses_other_words_in_the_url(backend: str, name: str) -> None:
    url = URLS[backend]
    with pytest.raises(anymq.ConfigError, match=name):
        anymq.connect(f"{url}{'&' if '?' in url else '?'}{name}=nope")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        *[(v, True) for v in ("true", "TRUE", "1", "yes", "on", " On ", True)],
        *[(v, False) for v in ("false", "False", "0", "no", "off", False)],
    ],
)
def test_boolean_spellings_on_memory(value: object, expected: bool) -> None:
    broker = anymq.connect("memory://options", auto_create_topics=value)
    assert broker.driver.auto_create is expected  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("value", "expected"), [("yes", True), ("off", False), ("1", True), ("0", False)]
)
def test_boolean_spellings_on_rabbitmq_and_sqs(value: str, expected: bool) -> None:
    rabbit = anymq.connect(URLS["rabbitmq"], auto_create_topics=value)
    assert rabbit.driver.settings.auto_create_topics is expected  # type: ignore[attr-defined]
    sqs = anymq.connect(URLS["sqs"], auto_create_topics=value)
    assert sqs.driver.settings.auto_create is expected  # type: ignore[attr-defined]


@pytest.mark.parametrize(("backend", "name"), TIMEOUTS)
@pytest.mark.parametrize("value", ["0", 0, 0.0, "-1", "nan", "inf", "abc"])
def test_timeout_must_be_positive_seconds(backend: str, name: str, value: object) -> None:
    with pytest.raises(anymq.ConfigError, match=name) as info:
        anymq.connect(URLS[backend], **{name: value})
    # SQS keeps its documented floor of 0.1 s for connect_timeout.
    assert "> 0" in str(info.value) or ">= 0.1" in str(info.value)


@pytest.mark.parametrize(("backend", "name"), TIMEOUTS)
def test_timeout_zero_in_the_url_is_refused(backend: str, name: str) -> None:
    url = URLS[backend]
    with pytest.raises(anymq.ConfigError, match=name):
        anymq.connect(f"{url}{'&' if '?' in url else '?'}{name}=0")


@pytest.mark.parametrize("name", ["connect_timeout", "publish_timeout", "reconnect_interval"])
@pytest.mark.parametrize(("value", "expected"), [("0.25", 0.25), (3, 3.0), ("120", 120.0)])
def test_rabbitmq_timeouts_mean_what_they_say(name: str, value: object, expected: float) -> None:
    broker = anymq.connect(URLS["rabbitmq"], **{name: value})
    assert getattr(broker.driver.settings, name) == expected  # type: ignore[attr-defined]


def test_rabbitmq_timeout_defaults_are_unchanged() -> None:
    settings = anymq.connect(URLS["rabbitmq"]).driver.settings  # type: ignore[attr-defined]
    assert (settings.connect_timeout, settings.publish_timeout) == (10.0, 60.0)
    assert settings.reconnect_interval == 1.0


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:abc", "http://127.0.0.1:99999"])
def test_sqs_endpoint_url_with_a_bad_port_is_a_config_error(endpoint: str) -> None:
    with pytest.raises(anymq.ConfigError, match="port is not a number"):
        anymq.connect("sqs://?region=us-east-1", endpoint_url=endpoint)


def test_sqs_endpoint_url_must_be_http() -> None:
    with pytest.raises(anymq.ConfigError, match=r"http\(s\)://host"):
        anymq.connect("sqs://?region=us-east-1", endpoint_url="ftp://127.0.0.1:4566")


# -- Divergences found while moving every backend onto anymq.options -----------------------

#: Text options whose empty value was silently "not given" (RabbitMQ name/cafile, SQS
#: region/profile/endpoint_url); an empty value is an error on every backend now.
EMPTY_TEXT = [
    ("rabbitmq", "name"),
    ("rabbitmq", "cafile"),
    ("sqs", "region"),
    ("sqs", "profile"),
    ("sqs", "endpoint_url"),
    ("kafka", "client_id"),
]


@pytest.mark.parametrize(("backend", "name"), EMPTY_TEXT)
def test_an_empty_text_option_is_refused(backend: str, name: str) -> None:
    url = URLS[backend].replace("?region=us-east-1", "")
    with pytest.raises(anymq.ConfigError, match=name):
        anymq.connect(f"{url}{'&' if '?' in url else '?'}{name}=")


#: Whole-number options that silently cut a fraction (wait_time=1.5 polled 1 s).
FRACTIONS = [
    ("sqs", "wait_time", "1.5"),
    ("sqs", "visibility_timeout", "2.7"),
    ("sqs", "max_attempts", "1.5"),
    ("sqs", "max_pool_connections", 10.5),
    ("rabbitmq", "heartbeat", 1.5),
    ("rabbitmq", "stream_segment_bytes", 1000.5),
]


@pytest.mark.parametrize(("backend", "name", "value"), FRACTIONS)
def test_a_fraction_is_refused_where_a_whole_number_is_meant(
    backend: str, name: str, value: object
) -> None:
    with pytest.raises(anymq.ConfigError, match=name) as info:
        anymq.connect(URLS[backend], **{name: value})
    assert "whole number" in str(info.value)


def test_client_options_may_be_given_at_connect_on_every_backend() -> None:
    """Kafka took producer/consumer options on the URL as defaults, RabbitMQ refused them:
    one rule now, and the client's own value wins."""
    broker = anymq.connect(URLS["rabbitmq"] + "?confirm=false&exclusive=yes")
    assert broker.driver.parse_options("producer", {})["confirm"] is False
    assert broker.driver.parse_options("producer", {"confirm": "on"})["confirm"] is True
    assert broker.driver.parse_options("consumer", {})["exclusive"] is True
    sqs = anymq.connect(URLS["sqs"], wait_time=3)
    assert sqs.driver.parse_options("consumer", {})["wait_time"] == 3


@pytest.mark.parametrize(
    ("url", "name", "where"),
    [
        ("memory://options", "connect_timeout", None),
        (URLS["kafka"], "configs", "create_topic"),
        (URLS["sqs"], "region", None),
    ],
)
def test_an_option_of_another_scope_says_where_it_goes(
    url: str, name: str, where: str | None
) -> None:
    broker = anymq.connect(url)
    scope = "topic" if where is None else "producer"
    with pytest.raises(anymq.ConfigError, match=f"{name} .* is not a {scope} option") as info:
        broker.driver.parse_options(scope, {name: "x"})
    assert "anymq.connect()" in str(info.value) or "create_topic()" in str(info.value)


def test_unknown_option_suggests_the_close_name() -> None:
    with pytest.raises(
        anymq.ConfigError, match=r"auto_create_topic .*did you mean auto_create_topics"
    ):
        anymq.connect("memory://options?auto_create_topic=true")
