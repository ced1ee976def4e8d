"""The contract-suite runner finishes a test's cleanup even when Ctrl-C cancels the test,
and a test that runs out of time fails with an error that says so."""

from __future__ import annotations

import asyncio
import re
import traceback

import pytest

from anymq.testing.plugin import DEFAULT_TIMEOUT, _finish, limited, time_limit


def test_cleanup_survives_cancellation_and_cancellation_is_kept() -> None:
    done: list[str] = []

    async def cleanup() -> None:
        await asyncio.sleep(0.2)
        done.append("deleted topics")

    async def interrupted_test() -> None:
        try:
            await asyncio.Event().wait()  # until cancelled
        finally:
            await _finish(cleanup())

    async def main() -> None:
        task = asyncio.ensure_future(interrupted_test())
        await asyncio.sleep(0.05)
        task.cancel()  # what asyncio.run does on Ctrl-C
        await asyncio.sleep(0.01)
        task.cancel()  # a second Ctrl-C while the cleanup runs
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert done == ["deleted topics"]


def test_cleanup_errors_are_not_swallowed() -> None:
    async def cleanup() -> None:
        raise RuntimeError("broker gone")

    with pytest.raises(RuntimeError, match="broker gone"):
        asyncio.run(_finish(cleanup()))


def test_running_out_of_time_names_the_limit_and_where_the_test_was() -> None:
    """A CI run once failed with a bare 'TimeoutError' (asyncio.timeout's own), which could
    not be told from a TimeoutError escaping the code under test."""

    async def stuck_in_a_step() -> None:
        await asyncio.sleep(30)

    with pytest.raises(TimeoutError) as info:
        asyncio.run(limited(stuck_in_a_step(), 0.05, "tests/x.py::test_slow"))
    assert str(info.value).startswith("test ran out of its 0.05s anymq time limit")
    assert "tests/x.py::test_slow" in str(info.value)
    # the time that really passed, not only the limit (issue 14: timeouts stated truthfully)
    elapsed = re.search(r"after (\d+\.\d+)s", str(info.value))
    assert elapsed is not None, str(info.value)
    assert 0.05 <= float(elapsed[1]) < 1.0, str(info.value)
    cause = info.value.__cause__
    assert isinstance(cause, asyncio.CancelledError)
    frames = [frame.name for frame in traceback.extract_tb(cause.__traceback__)]
    assert "stuck_in_a_step" in frames, frames


def test_a_timeout_error_of_the_test_itself_passes_unchanged() -> None:
    async def raises() -> None:
        raise TimeoutError("the marker did not come back")

    with pytest.raises(TimeoutError, match=r"^the marker did not come back$"):
        asyncio.run(limited(raises(), 5.0, "tests/x.py::test_raw"))


def test_a_test_may_ask_for_more_time_never_less() -> None:
    assert time_limit(None, None) == DEFAULT_TIMEOUT
    assert time_limit(30.0, None) == 30.0
    assert time_limit(None, 240) == 240.0
    assert time_limit(300.0, 240) == 300.0
    assert time_limit(None, 5) == DEFAULT_TIMEOUT
