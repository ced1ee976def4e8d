"""The Kafka secrets sweep: the marker in every position a Kafka secret can take never shows
in a repr, an error or a DEBUG line of aiokafka or anymq (issue 18 item 5)."""

from __future__ import annotations

import pytest

from tests.marker import MARKER, sweep

pytestmark = [pytest.mark.kafka, pytest.mark.anymq]


def _positions(kafka_url: str) -> list[tuple[str, str, dict[str, object], str]]:
    host = kafka_url.split("://", 1)[1].split("?")[0].rstrip("/")
    return [
        # (label, url, keyword options, the outcome expected)
        ("URL password (SASL refused)", f"kafka://app:{MARKER}@{host}", {}, "ConfigError"),
        (
            "sasl_username + sasl_password keywords",
            f"kafka://{host}",
            {"sasl_username": "app", "sasl_password": MARKER},
            "ConfigError",
        ),
        (
            "sasl_password in the query",
            f"kafka://{host}?sasl_username=app&sasl_password={MARKER}",
            {},
            "ConfigError",
        ),
        (
            "SCRAM",
            f"kafka://app:{MARKER}@{host}?sasl_mechanism=SCRAM-SHA-256",
            {},
            "ConfigError",
        ),
        ("ssl_password (TLS to a plain port)", f"kafka://{host}", {"ssl_password": MARKER}, ""),
        ("kafka+ssl with a URL password", f"kafka+ssl://app:{MARKER}@{host}", {}, ""),
        ("unreachable, URL password", f"kafka://app:{MARKER}@127.0.0.1:1", {}, "BrokerUnavailable"),
        (
            "aiokafka's own name, refused",
            f"kafka://{host}?sasl_plain_password={MARKER}",
            {},
            "ConfigError",
        ),
    ]


async def test_marker_never_shows_in_any_position(kafka_url: str) -> None:
    for label, url, options, expected in _positions(kafka_url):
        outcome, leaks, _ = await sweep(url, connect_timeout=3, **options)
        assert outcome != "connected", f"{label}: connected"
        if expected:
            assert outcome == expected, f"{label}: {outcome}"
        assert not leaks, f"{label}: the secret showed in {leaks[:2]}"


async def test_a_sasl_password_without_a_user_is_refused_without_showing_it(
    kafka_url: str,
) -> None:
    """sasl_password without a user was ignored (the client connected unauthenticated); now
    it is a ConfigError before anything connects, and the password shows nowhere."""
    host = kafka_url.split("://", 1)[1].split("?")[0].rstrip("/")
    for url, options in (
        (f"kafka://{host}?sasl_password={MARKER}", {}),
        (f"kafka://{host}", {"sasl_password": MARKER}),
        (
            f"kafka://{host}?security_protocol=PLAINTEXT&sasl_username=app",
            {"sasl_password": MARKER},
        ),
    ):
        outcome, leaks, _ = await sweep(url, **options)
        assert outcome == "ConfigError", url
        assert not leaks, leaks[:2]
