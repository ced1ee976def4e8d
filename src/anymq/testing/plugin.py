"""The pytest plugin behind the contract suite (registered through ``pytest11``).

It adds ``--anymq-url`` and ``--anymq-timeout``, the ``anymq_url`` fixture, and runs
``async def`` tests marked ``anymq`` on a fresh event loop each, bounded by the timeout, so
the suite needs no other async test plugin and a stuck broker fails a test instead of
hanging the run.
"""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import Coroutine
from typing import Any

import pytest

DEFAULT_TIMEOUT = 120.0


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("anymq")
    group.addoption(
        "--anymq-url",
        default=None,
        help="broker URL the contract suite runs against (default: $ANYMQ_URL or memory://)",
    )
    group.addoption(
        "--anymq-timeout",
        type=float,
        default=None,
        help=f"seconds one async anymq test may take (default {DEFAULT_TIMEOUT:g})",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "anymq: run this async test on a fresh event loop with a time limit"
    )


@pytest.fixture(scope="session")
def anymq_url(request: pytest.FixtureRequest) -> str:
    """The broker URL under test: --anymq-url, then $ANYMQ_URL, then memory://."""
    option: str | None = request.config.getoption("--anymq-url")
    return option or os.environ.get("ANYMQ_URL") or "memory://"


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if pyfuncitem.get_closest_marker("anymq") is None:
        return None
    func = pyfuncitem.obj
    if not inspect.iscoroutinefunction(func):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    kwargs: dict[str, Any] = {name: pyfuncitem.funcargs[name] for name in names}
    limit = pyfuncitem.config.getoption("--anymq-timeout") or DEFAULT_TIMEOUT
    cleanups = [v for v in kwargs.values() if hasattr(v, "aclose_test")]

    async def run() -> None:
        try:
            async with asyncio.timeout(limit):
                await func(**kwargs)
        finally:
            for item in cleanups:
                await _finish(item.aclose_test())

    asyncio.run(run())
    return True


CLEANUP_SECONDS = 60.0


async def _finish(cleanup: Coroutine[Any, Any, None]) -> None:
    """Run a test's cleanup to the end even if Ctrl-C cancels the test meanwhile.

    Topics a test created must not outlive an interrupted run; the cancellation is raised
    again once the cleanup is done (or after CLEANUP_SECONDS, so it can never hang).
    """
    task = asyncio.ensure_future(cleanup)
    cancelled = False
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CLEANUP_SECONDS
    while not task.done() and loop.time() < deadline:
        try:
            await asyncio.wait({task}, timeout=deadline - loop.time())
        except asyncio.CancelledError:
            cancelled = True
    if not task.done():
        task.cancel()
    elif not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]
    if cancelled:
        raise asyncio.CancelledError
