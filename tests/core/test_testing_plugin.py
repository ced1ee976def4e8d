"""The contract-suite runner finishes a test's cleanup even when Ctrl-C cancels the test."""

from __future__ import annotations

import asyncio

import pytest

from anymq.testing.plugin import _finish


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
