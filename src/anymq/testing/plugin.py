"""The pytest plugin behind the contract suite (registered through ``pytest11``).

It adds ``--anymq-url`` and ``--anymq-timeout``, the ``anymq_url`` fixture, and runs
``async def`` tests marked ``anymq`` on a fresh event loop each, bounded by the timeout, so
the suite needs no other async test plugin and a stuck broker fails a test instead of
hanging the run. A test that needs longer (broker restarts) says so with
``@pytest.mark.anymq(timeout=seconds)``; running out of time is a TimeoutError that says
which limit ran out, chained to the cancellation's traceback (where the test was).
"""

from __future__ import annotations

import asyncio
import inspect
import os
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest

_SUITE_MODULES = [
    f"anymq.testing.{path.stem}"
    for path in sorted(Path(__file__).parent.glob("*.py"))
    if path.stem not in ("__init__", "plugin")
]
# Before they are imported: a failed assert in the suite shows what it compared.
pytest.register_assert_rewrite(*(m for m in _SUITE_MODULES if m not in sys.modules))

from anymq.testing.report import (  # noqa: E402  (after the rewrite is registered)
    REPORT_PLUGIN,
    ProofReport,
)

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
    config.pluginmanager.register(ProofReport(config), REPORT_PLUGIN)


@pytest.fixture(scope="session")
def anymq_url(request: pytest.FixtureRequest) -> str:
    """The broker URL under test: --anymq-url, then $ANYMQ_URL, then memory://."""
    option: str | None = request.config.getoption("--anymq-url")
    return option or os.environ.get("ANYMQ_URL") or "memory://"


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    marker = pyfuncitem.get_closest_marker("anymq")
    if marker is None:
        return None
    func = pyfuncitem.obj
    if not inspect.iscoroutinefunction(func):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    kwargs: dict[str, Any] = {name: pyfuncitem.funcargs[name] for name in names}
    limit = time_limit(pyfuncitem.config.getoption("--anymq-timeout"), marker.kwargs.get("timeout"))
    cleanups = [v for v in kwargs.values() if hasattr(v, "aclose_test")]

    async def run() -> None:
        try:
            await limited(func(**kwargs), limit, pyfuncitem.nodeid)
        finally:
            for item in cleanups:
                await _finish(item.aclose_test())

    asyncio.run(run())
    return True


def time_limit(option: float | None, own: float | None) -> float:
    """Seconds a test may run: ``--anymq-timeout`` (or the default), raised to the test's
    own ``anymq(timeout=...)`` when it declares more (never lowered by it)."""
    limit = option or DEFAULT_TIMEOUT
    return max(limit, float(own)) if own is not None else limit


async def limited(test: Coroutine[Any, Any, None], limit: float, name: str) -> None:
    """Run ``test`` within ``limit`` seconds.

    asyncio.timeout alone raises a bare ``TimeoutError()`` that a CI summary cannot tell
    from a TimeoutError escaping the code under test; this one names the limit, and is
    raised from the cancellation, whose traceback shows the step the test was in. A
    TimeoutError the test raises itself passes unchanged.
    """
    timer = asyncio.timeout(limit)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        async with timer:
            await test
    except TimeoutError as exc:
        if not timer.expired():
            raise
        raise TimeoutError(
            f"test ran out of its {limit:g}s anymq time limit after {loop.time() - started:.2f}s "
            f"({name}; --anymq-timeout or @pytest.mark.anymq(timeout=...) give more): "
            "cancelled where the traceback above shows"
        ) from (exc.__cause__ or exc)


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
