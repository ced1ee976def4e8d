"""URL parsing and rendering: immutable, and never shows a password."""

from __future__ import annotations

import dataclasses
from urllib.parse import quote

import pytest

import anymq
from anymq import URL, plugins
from anymq.hookspecs import BackendSpec, hookimpl
from anymq.url import address


def test_parse_full_url() -> None:
    url = URL.parse("amqp://user:p%40ss@rabbit.local:5672/vhost?prefetch=10&mode=stream")
    assert url.scheme == "amqp"
    assert url.username == "user"
    assert url.password == "p@ss"
    assert url.hosts == (("rabbit.local", 5672),)
    assert url.host == "rabbit.local"
    assert url.port == 5672
    assert url.path == "vhost"
    assert dict(url.query) == {"prefetch": "10", "mode": "stream"}


def test_multiple_hosts_and_ipv6() -> None:
    url = URL.parse("kafka://a:9092,b:9093,[::1]:9094")
    assert url.hosts == (("a", 9092), ("b", 9093), ("::1", 9094))
    assert str(url) == "kafka://a:9092,b:9093,[::1]:9094"
    assert URL.parse("nats://[::1]").hosts == (("::1", None),)
    assert [address(h, p) for h, p in url.hosts] == ["a:9092", "b:9093", "[::1]:9094"]
    assert address("::1") == "[::1]"


def test_memory_urls() -> None:
    assert URL.parse("memory://").hosts == ()
    assert URL.parse("memory://shared").host == "shared"


def test_password_hidden_in_str_repr_and_broker_repr() -> None:
    url = URL.parse("amqp://guest:hunter2@localhost:5672/?sasl_password=alsosecret")
    for text in (str(url), repr(url), url.render()):
        assert "hunter2" not in text
        assert "alsosecret" not in text
        assert "***" in text
    assert "hunter2" in url.render(hide_password=False)
    broker = anymq.connect("memory://x")
    assert "memory://x" in repr(broker)


def test_url_is_immutable_and_with_query_copies() -> None:
    url = URL.parse("memory://a?x=1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        url.scheme = "kafka"  # type: ignore[misc]
    other = url.with_query(y=True, x=None)
    assert dict(other.query) == {"y": "true"}
    assert dict(url.query) == {"x": "1"}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("no-scheme", "scheme://host:port"),
        ("kafka://host:notaport", "invalid port"),
        ("kafka://host:70000", "invalid port"),
        ("b@d://x", "invalid URL scheme"),
        ("amqp://u:p@[::1", "IPv6 address goes in brackets"),  # was yarl's ValueError
        ("kafka://[::1]x", "IPv6 address goes in brackets"),
        ("kafka://[::1]:9092,[::2", "IPv6 address goes in brackets"),
        ("redis://[abc]:6379", "IPv6 address goes in brackets"),
    ],
)
def test_bad_urls_name_what_is_wrong(text: str, fragment: str) -> None:
    with pytest.raises(anymq.ConfigError, match=fragment):
        URL.parse(text)


def test_unparsable_url_error_hides_password() -> None:
    with pytest.raises(anymq.ConfigError) as info:
        URL.parse("amqp://user:topsecret@host:badport")
    assert "topsecret" not in str(info.value)


# -- malformed URLs never echo a secret (issue 11, defect 5) ---------------------------------

SECRET = "hunter2"


def _refused(text: str, *secrets: str) -> str:
    """The ConfigError text for ``text``, asserting no secret is in it."""
    with pytest.raises(anymq.ConfigError) as info:
        anymq.connect(text)
    message = str(info.value)
    for secret in secrets or (SECRET,):
        assert secret not in message, message
    return message


@pytest.mark.parametrize("special", ["/", "?", "#/", "/x@"])
def test_password_with_an_unencoded_special_character_is_refused_without_echo(
    special: str,
) -> None:
    message = _refused(f"amqp://guest:{SECRET}{special}tail@localhost:5672/")
    assert "percent-encoded" in message
    assert "urllib.parse.quote(password, safe='')" in message


def test_password_with_slash_is_not_shown_as_an_invalid_port() -> None:
    message = _refused("amqp://guest:hunter2/x@localhost:5672/")
    assert "invalid port 'hunter2'" not in message


def test_numeric_password_prefix_with_slash_is_refused_not_taken_as_a_port() -> None:
    # "guest:12345" looks like host:port; the rest of the password would become the path.
    message = _refused("amqp://guest:12345/pw-secret@host", "12345", "pw-secret")
    assert "percent-encoded" in message


def test_numeric_password_prefix_with_question_mark_is_refused() -> None:
    _refused("amqp://guest:12345?pw-secret@host", "12345", "pw-secret")


def test_percent_encoded_special_password_parses_and_stays_hidden() -> None:
    from urllib.parse import quote

    password = "12345/pw?se#cr@et"
    url = URL.parse(f"amqp://guest:{quote(password, safe='')}@host:5672/vh")
    assert url.password == password
    assert url.hosts == (("host", 5672),)
    assert url.path == "vh"
    broker = anymq.connect(url)
    for text in (str(url), repr(url), repr(broker)):
        for piece in ("12345", "pw", "cr@et"):
            assert piece not in text, text


def test_rightmost_at_splits_userinfo_from_host() -> None:
    url = URL.parse(f"amqp://guest:p@{SECRET}@host:5672/")
    assert url.password == f"p@{SECRET}"
    assert url.hosts == (("host", 5672),)
    for text in (str(url), repr(url), repr(anymq.connect(url))):
        assert SECRET not in text


def test_bad_port_does_not_echo_a_secret_query_option() -> None:
    message = _refused(f"kafka://host:bad?sasl_password={SECRET}")
    assert "the port is not a number" in message


def test_bad_port_does_not_echo_the_password() -> None:
    message = _refused(f"kafka://user:{SECRET}@a:9092,b:90x2")
    assert "the port is not a number" in message


def test_port_out_of_range_names_the_range_without_echoing_the_password() -> None:
    message = _refused(f"kafka://user:{SECRET}@a:70000?ssl_password={SECRET}")
    assert "1 and 65535" in message


def test_password_without_host_is_not_taken_as_a_port() -> None:
    # "amqp://guest:hunter2" with the "@host" forgotten: "hunter2" is not shown as a port.
    message = _refused(f"amqp://guest:{SECRET}")
    assert "the port is not a number" in message


@pytest.mark.parametrize(
    "text",
    [
        f"amqp:guest:{SECRET}@localhost",
        f"amqp:/guest:{SECRET}@localhost",
        f"guest:{SECRET}@localhost:5672",
        f"amqp//guest:{SECRET}@localhost",
    ],
)
def test_url_without_scheme_separator_is_not_echoed(text: str) -> None:
    message = _refused(text)
    assert "scheme://" in message


def test_invalid_scheme_with_a_password_in_it_is_not_echoed() -> None:
    message = _refused(f"amqp:guest:{SECRET}@host://x")
    assert "scheme" in message


def test_invalid_scheme_error_does_not_echo_query_secrets() -> None:
    _refused(f"b@d://host?sasl_password={SECRET}")


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "sasl_password",
        "ssl_password",
        "sasl_plain_password",
        "secret_key",
        "aws_secret_access_key",
        "session_token",
        "token",
    ],
)
def test_secret_query_options_are_masked(key: str) -> None:
    url = URL.parse(f"kafka://host:9092?{key}={SECRET}&client_id=visible")
    for text in (str(url), repr(url)):
        assert SECRET not in text
        assert "visible" in text
    assert url.query[key] == SECRET


def test_secret_keyword_options_are_masked() -> None:
    url = URL.parse("kafka://host:9092").with_query(sasl_password=SECRET)
    assert SECRET not in str(url)
    assert SECRET not in repr(url)


@pytest.mark.parametrize(
    "nested",
    [
        f"http://user:{SECRET}@127.0.0.1:4566",
        f"https://user:{SECRET}@sqs.example.com",
        f"http://:{SECRET}@127.0.0.1:4566/path",
    ],
)
def test_password_in_a_nested_url_option_is_masked(nested: str) -> None:
    from urllib.parse import quote

    url = URL.parse(f"sqs://?endpoint_url={quote(nested, safe='')}&region=us-east-1")
    assert url.query["endpoint_url"] == nested
    for text in (str(url), repr(url)):
        assert SECRET not in text
        assert "127.0.0.1" in text or "sqs.example.com" in text
    unquoted = URL.parse(f"sqs://?endpoint_url={nested}&region=us-east-1")
    for text in (str(unquoted), repr(unquoted)):
        assert SECRET not in text


def test_at_in_a_query_value_is_not_mistaken_for_userinfo() -> None:
    url = URL.parse("kafka://host:9092?sasl_username=me@example.com&client_id=a")
    assert url.hosts == (("host", 9092),)
    assert url.username is None
    assert url.query["sasl_username"] == "me@example.com"


def test_at_in_a_vhost_without_a_port_still_parses() -> None:
    url = URL.parse("amqp://host/team@site")
    assert url.hosts == (("host", None),)
    assert url.path == "team@site"


class _SecretToyPlugin:
    @staticmethod
    @hookimpl
    def anymq_backends() -> list[BackendSpec]:
        return [
            BackendSpec(
                "secrettoy",
                ("secrettoy",),
                "tests.core.toy_backend:SecretToyBroker",
                options="tests.core.toy_backend:SecretToyOptions",
            )
        ]


def test_an_option_declared_secret_is_masked_whatever_its_name() -> None:
    """The name rule misses ``api_key``; the backend's declaration says it is secret."""
    plugins.register(_SecretToyPlugin, name="secrettoy")
    try:
        url = URL.parse("secrettoy://space?api_key=AKIA-VERY-SECRET&auto_create_topics=true")
        assert "AKIA-VERY-SECRET" not in str(url)
        assert "AKIA-VERY-SECRET" not in repr(url)
        assert "api_key=%2A%2A%2A" in str(url)
        assert "auto_create_topics=true" in str(url)
        broker = anymq.connect(str(url.render(hide_password=False)))
        assert "AKIA-VERY-SECRET" not in repr(broker.driver.options)
        with pytest.raises(anymq.ConfigError) as info:
            anymq.connect("secrettoy://space", api_key="")
        assert "api_key" in str(info.value)
    finally:
        plugins.unregister(_SecretToyPlugin)


@pytest.mark.parametrize("key", ["password", "secret_key", "token", "aws_secret_access_key"])
def test_secret_in_the_query_of_a_nested_url_is_masked(key: str) -> None:
    """A URL given as an option value (endpoint_url=...) may carry a secret in its own
    query: str() and repr() mask it like a top-level secret option (issue 18)."""
    marker = "s3cr3t-MARKER"
    nested = f"http://127.0.0.1:4566/?{key}={marker}&x=1"
    for text in (
        f"sqs://?endpoint_url={quote(nested, safe='')}&region=us-east-1",
        f"sqs://?endpoint_url={nested}",
    ):
        url = URL.parse(text)
        assert marker not in str(url)
        assert marker not in repr(url)
        assert "x%3D1" in str(url) or "x=1" in str(url)  # the rest stays readable
