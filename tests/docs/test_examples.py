"""Every ```python block in README.md and docs/ runs, against memory:// and the broker its
page is about (see tests/docs/blocks.py for the markers); a block that hangs or raises fails
with its page and line."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

import anymq
import anymq_memory
from tests.docs.blocks import ROOT, Block, blocks, pages, prepare

TIMEOUT = float(os.environ.get("ANYMQ_DOCS_TIMEOUT", "60"))  # seconds per block
RUNNER = Path(__file__).with_name("run_block.py")


def _params() -> list[object]:
    params: list[object] = []
    for path in pages():
        for block in blocks(path):
            if block.skip is not None:
                mark = pytest.mark.skip(reason=f"{block.where} not run: {block.skip}")
                params.append(pytest.param(block, "memory", marks=mark, id=block.where))
                continue
            for broker in block.brokers:
                marks = [] if broker == "memory" else [getattr(pytest.mark, broker)]
                params.append(
                    pytest.param(block, broker, marks=marks, id=f"{block.where}-{broker}")
                )
    return params


def _pythonpath() -> str:
    """Where this session imports anymq and its plugins from, so the block imports the same."""
    here = [str(Path(m.__file__ or "").resolve().parent.parent) for m in (anymq, anymq_memory)]
    rest = os.environ.get("PYTHONPATH", "")
    return os.pathsep.join(dict.fromkeys([*here, *([rest] if rest else [])]))


async def _delete(url: str, topics: list[str]) -> None:
    """Best effort: the topics a block created (and their groups) leave the shared broker."""
    async with anymq.connect(url) as broker:
        for topic in topics:
            with contextlib.suppress(anymq.TopicNotFound):
                await broker.delete_topic(topic)


@pytest.mark.parametrize(("block", "broker"), _params())
def test_example(block: Block, broker: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    url = "memory://" if broker == "memory" else str(request.getfixturevalue(f"{broker}_url"))
    code, topics = prepare(block.code, broker, url)
    env = {**os.environ, "PYTHONPATH": _pythonpath()}
    env.pop("ANYMQ_URL", None)
    try:
        done = subprocess.run(
            [sys.executable, str(RUNNER), str(ROOT / block.page), str(block.line)],
            input=code,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            cwd=tmp_path,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or ""
        pytest.fail(
            f"{block.where} on {broker}: still running after {TIMEOUT:.0f} s (a hang), killed; "
            f"output: {out!r}\n--- the code run ---\n{code}",
            pytrace=False,
        )
    finally:
        if broker != "memory" and topics:
            asyncio.run(_delete(url, topics))
    if done.returncode != 0:
        pytest.fail(
            f"{block.where} on {broker}: exit {done.returncode}\n{done.stderr}"
            f"--- the code run ---\n{code}",
            pytrace=False,
        )
    if block.prints is not None and block.prints not in done.stdout:
        pytest.fail(f"{block.where} on {broker}: printed {done.stdout!r}, not {block.prints!r}")
