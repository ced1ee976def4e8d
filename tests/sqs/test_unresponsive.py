"""An endpoint that accepts TCP and never answers (a hung proxy, a stopped-but-listening
emulator): the first call must fail with BrokerUnavailable within the documented bound
(``connect_timeout`` x ``max_attempts``), not after botocore's read timeouts and retries,
and leave no connection or client behind."""

from __future__ import annotations

import asyncio
import gc
import time
import warnings

import pytest

import anymq

pytestmark = [pytest.mark.sqs, pytest.mark.anymq]

SLACK = 1.5
"""Seconds allowed beyond the documented bound (client creation, scheduling on a busy box)."""


class Silent:
    """A TCP server on 127.0.0.1 that accepts, reads everything and never answers."""

    def __init__(self) -> None:
        self.accepted = 0
        self.open = 0
        self.server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.open += 1
        try:
            while await reader.read(65536):  # b"" once the client has closed its socket
                pass
        except ConnectionError:
            pass
        finally:
            self.open -= 1
            writer.close()

    async def __aenter__(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()


@pytest.mark.parametrize("attempts", [1, 2])
async def test_silent_endpoint_is_broker_unavailable_within_the_documented_bound(
    attempts: int,
) -> None:
    silent = Silent()
    async with silent as port:
        url = (
            f"sqs://AKIDEXAMPLE:s3cr3t-key@?endpoint_url=http://127.0.0.1:{port}"
            f"&region=us-east-1&connect_timeout=1&max_attempts={attempts}"
        )
        bound = 1 * attempts  # docs/backends/sqs.md: connect_timeout x max_attempts
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            started = time.monotonic()
            with pytest.raises(anymq.BrokerUnavailable) as info:
                async with anymq.connect(url):
                    pass
            took = time.monotonic() - started
            # nothing leaks: the client closed its sockets and no aiohttp session is left
            for _ in range(20):
                if not silent.open:
                    break
                await asyncio.sleep(0.05)
            gc.collect()
        assert silent.accepted >= 1, "the test server was never reached"
        assert silent.open == 0, "a connection to the endpoint was left open"
        unclosed = [str(w.message) for w in caught if "nclosed" in str(w.message)]
        assert not unclosed, unclosed
        assert took < bound + SLACK, f"BrokerUnavailable after {took:.1f}s, bound {bound}s"
        text = str(info.value)
        assert f"127.0.0.1:{port}" in text
        assert f"within {bound:g}s" in text  # the deadline is named
        assert "s3cr3t-key" not in text
        assert "AKIDEXAMPLE" not in text
        assert (info.value.host, info.value.port) == ("127.0.0.1", port)
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert not [t for t in others if not t.done()], others
