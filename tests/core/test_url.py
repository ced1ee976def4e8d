"""URL parsing and rendering: immutable, and never shows a password."""

from __future__ import annotations

import dataclasses

import pytest

import anymq
from anymq import URL


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
    ],
)
def test_bad_urls_name_what_is_wrong(text: str, fragment: str) -> None:
    with pytest.raises(anymq.ConfigError, match=fragment):
        URL.parse(text)


def test_unparsable_url_error_hides_password() -> None:
    with pytest.raises(anymq.ConfigError) as info:
        URL.parse("amqp://user:topsecret@host:badport")
    assert "topsecret" not in str(info.value)
