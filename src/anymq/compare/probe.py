"""Is a broker there? A bounded TCP connect, then a real anymq connection, never a hang.

The TCP step runs first so an address with nothing listening is reported as unreachable
even when its backend is not installed; the anymq step then proves the backend loads and
the broker answers, and reads the capabilities the semantics matrix is checked against.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Literal

import anymq
from anymq.compare.profile import for_scheme
from anymq.errors import AnyMQError, BrokerUnavailable, UnknownBackend
from anymq.features import Capabilities
from anymq.url import URL

Status = Literal["ok", "unreachable", "unavailable"]


@dataclass(frozen=True, slots=True)
class ProbeResult:
    status: Status
    """ok; unreachable (nothing answers); unavailable (backend missing or refused the URL)."""
    reason: str | None = None
    backend: str | None = None
    capabilities: Capabilities | None = None
    seconds: float = 0.0


def network_address(url: URL) -> tuple[str, int] | None:
    """The first host:port to try for a URL, or None where there is nothing to probe (an
    in-process backend, a cloud service): the backend's compare profile knows."""
    profile = for_scheme(url.scheme)
    if profile is None:
        return (url.host, url.port) if url.host and url.port else None
    return profile.network_address(url)


async def tcp_reachable(host: str, port: int, timeout: float) -> str | None:
    """None if something accepts a TCP connection at host:port in time, else why not."""
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        return f"no answer from {host}:{port} within {timeout:g}s"
    except OSError as exc:
        return f"cannot connect to {host}:{port}: {exc.strerror or exc}"
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return None


async def probe(url: str, timeout: float) -> ProbeResult:
    """Check the broker at ``url`` in at most about ``2 * timeout`` seconds."""
    loop = asyncio.get_running_loop()
    started = loop.time()

    def took() -> float:
        return round(loop.time() - started, 3)

    parsed = URL.parse(url)
    address = network_address(parsed)
    if address is not None:
        problem = await tcp_reachable(*address, timeout)
        if problem is not None:
            return ProbeResult("unreachable", problem, seconds=took())
    try:
        broker = anymq.connect(url)
    except UnknownBackend as exc:
        return ProbeResult("unavailable", str(exc), seconds=took())
    except AnyMQError as exc:
        return ProbeResult("unavailable", f"{type(exc).__name__}: {exc}", seconds=took())
    try:
        async with asyncio.timeout(timeout):
            async with broker:
                await broker.list_topics()
    except TimeoutError:
        return ProbeResult(
            "unreachable", f"{parsed.render()} did not answer within {timeout:g}s", seconds=took()
        )
    except (BrokerUnavailable, OSError) as exc:
        return ProbeResult("unreachable", str(exc), seconds=took())
    except AnyMQError as exc:
        return ProbeResult("unavailable", f"{type(exc).__name__}: {exc}", seconds=took())
    return ProbeResult("ok", None, broker.backend, broker.capabilities, seconds=took())
