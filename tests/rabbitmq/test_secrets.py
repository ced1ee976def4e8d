"""The RabbitMQ secrets sweep: the marker as the password (accepted server, wrong, TLS to a
plain port, unreachable), classic and stream, never shows in a repr, an error or a DEBUG line
of aio-pika, aiormq or anymq (issue 18 item 5)."""

from __future__ import annotations

import contextlib

import pytest

from tests.marker import MARKER, sweep
from tests.rabbitmq.helpers import server

pytestmark = [pytest.mark.rabbitmq, pytest.mark.anymq]


@pytest.mark.parametrize("mode", ["classic", "stream"])
async def test_marker_never_shows_in_any_position(rabbitmq_url: str, mode: str) -> None:
    host = rabbitmq_url.split("@")[-1].split("/")[0]
    query = f"?mode={mode}"
    positions = [
        ("wrong password", f"amqp://guest:{MARKER}@{host}/{query}", "AuthenticationError"),
        ("unknown user", f"amqp://app:{MARKER}@{host}/{query}", "AuthenticationError"),
        ("amqps to a plain port", f"amqps://guest:{MARKER}@{host}/{query}", "BrokerUnavailable"),
        ("unreachable", f"amqp://guest:{MARKER}@127.0.0.1:1/{query}", "BrokerUnavailable"),
        ("a password option, refused", f"amqp://{host}/{query}&password={MARKER}", "ConfigError"),
    ]
    for label, url, expected in positions:
        outcome, leaks, logged = await sweep(url, connect_timeout=3)
        assert outcome == expected, f"{label}: {outcome}"
        assert logged or expected == "ConfigError", f"{label}: nothing logged at DEBUG"
        assert not leaks, f"{label}: the secret showed in {leaks[:2]}"


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["classic", "stream"])
async def test_marker_as_an_accepted_password_never_shows(mode: str) -> None:
    """A successful connect with the marker as the password, on a throwaway node of this
    test's own (the shared server's users are left alone)."""
    port = 5737
    env = {"ANYMQ_RABBITMQ_PORT": str(port), "ANYMQ_RABBITMQ_DIR": f"/tmp/rmq-{port}"}
    url = f"amqp://app:{MARKER}@127.0.0.1:{port}/?mode={mode}"
    await server(url, "start", env)
    # delete first: the user may be left from an earlier run (the node keeps its state)
    with contextlib.suppress(AssertionError):
        await server(url, "ctl delete_user app", env)
    await server(url, f"ctl add_user app {MARKER}", env)
    try:
        await server(url, 'ctl set_permissions -p / app ".*" ".*" ".*"', env)
        outcome, leaks, logged = await sweep(url, connect_timeout=5)
        assert outcome == "connected"
        assert logged > 5, "aio-pika and aiormq logged nothing at DEBUG: the sweep saw nothing"
        assert not leaks, f"the secret showed in {leaks[:2]}"
    finally:
        await server(url, "stop", env)
