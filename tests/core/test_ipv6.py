"""An IPv6 broker address works on every backend: the URL reaches the client library with
the address in brackets. Before, amqp:// and sqs:// raised a foreign ValueError from yarl
or botocore and nats:// a BrokerError ("invalid connect url option"), because the host
was written back without its brackets. Against a closed port on ::1 each backend must
report BrokerUnavailable naming [::1]:port."""

from __future__ import annotations

import asyncio
import socket

import pytest

import anymq


def _closed_port() -> int:
    with socket.socket(socket.AF_INET6) as probe:
        probe.bind(("::1", 0))
        port: int = probe.getsockname()[1]
    return port  # closed again: nothing listens there


@pytest.mark.parametrize(
    "template",
    [
        "amqp://u:p@[::1]:{port}/",
        "kafka://[::1]:{port}",
        "redis://[::1]:{port}/0",
        "nats://[::1]:{port}",
        "sqs://[::1]:{port}?region=us-east-1",
    ],
)
def test_an_ipv6_address_reaches_the_client(template: str) -> None:
    port = _closed_port()
    url = template.format(port=port)

    async def attempt() -> None:
        async with anymq.connect(url, connect_timeout=5) as broker:
            await broker.list_topics()

    with pytest.raises(anymq.BrokerUnavailable) as caught:
        asyncio.run(attempt())
    assert f"[::1]:{port}" in str(caught.value)


def test_an_unclosed_bracket_in_an_sqs_endpoint_is_a_config_error() -> None:
    with pytest.raises(anymq.ConfigError, match="IPv6 address goes in brackets"):
        anymq.connect("sqs://?endpoint_url=http://[::1&region=us-east-1")
