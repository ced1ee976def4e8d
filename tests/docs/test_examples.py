"""Every ```python and ```bash block in README.md and docs/ runs, against memory:// and the
broker its page is about (see tests/docs/blocks.py for the markers); a block that hangs or
fails fails with its page and line."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import anymq
import anymq_memory
from tests.docs.blocks import BROKERS, ROOT, Block, blocks, pages, prepare

TIMEOUT = float(os.environ.get("ANYMQ_DOCS_TIMEOUT", "60"))  # seconds per block
SHELL_TIMEOUT = 2 * TIMEOUT  # a shell block starts a Python process per command
RUNNER = Path(__file__).with_name("run_block.py")
_Outcome = tuple[int | None, str, str]  # exit status (None: killed after the timeout), out, err
BROKER_VARS = {b: f"ANYMQ_{b.upper()}_URL" for b in BROKERS if b != "memory"}
"""Every broker's variable: a block sees only its own broker's (a memory:// block running
`anymq compare` with NATS exported would otherwise compare NATS too)."""


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
    """Where this session imports anymq and its plugins from, so the block imports the same,
    and the repository root: a block imports as if run there (``tests.example_backend``)."""
    here = [str(Path(m.__file__ or "").resolve().parent.parent) for m in (anymq, anymq_memory)]
    rest = os.environ.get("PYTHONPATH", "")
    return os.pathsep.join(dict.fromkeys([*here, str(ROOT), *([rest] if rest else [])]))


async def _delete(url: str, topics: list[str]) -> None:
    """Best effort: the topics a block created, their groups and dead-letter topics (any
    topic named after one: the names carry this run's suffix) leave the shared broker."""
    async with anymq.connect(url) as broker:
        doomed = [t for t in await broker.list_topics() if t.startswith(tuple(topics))]
        for topic in sorted(set(doomed) | set(topics)):
            with contextlib.suppress(anymq.TopicNotFound):
                await broker.delete_topic(topic)


def _text(output: str | bytes | None) -> str:
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""


def _shell_env(broker: str, url: str) -> dict[str, str]:
    """The block's ``anymq`` and ``python`` are this session's, importing this checkout; its
    broker is the test broker, and only that one (``anymq compare`` reads the variables)."""
    env = {k: v for k, v in os.environ.items() if k not in {"ANYMQ_URL", *BROKER_VARS.values()}}
    env["ANYMQ_URL"] = url
    if broker in BROKER_VARS:
        env[BROKER_VARS[broker]] = url
    path = [str(Path(sys.executable).parent), str(ROOT / ".venv" / "bin"), env.get("PATH", "")]
    env["PATH"] = os.pathsep.join(dict.fromkeys(p for p in path if p))
    env["PYTHONPATH"] = _pythonpath()
    return env


def _run_shell(block: Block, code: str, cwd: Path, env: dict[str, str]) -> _Outcome:
    """Like ``_run``, with ``bash -euo pipefail``; a hang kills every process of the block
    (a pipeline's too), not just bash, so nothing keeps running on the shared brokers."""
    script = cwd / "block.sh"
    trace = "PS4='+ line $LINENO: '; set -x"  # on stderr: which line failed or hangs
    script.write_text(trace + "\n" * block.line + code, encoding="utf-8")  # the page's lines
    process = subprocess.Popen(
        ["bash", "-euo", "pipefail", str(script)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=env,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=SHELL_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        return None, out, err
    return process.returncode, out, err


def _run(block: Block, code: str, cwd: Path) -> _Outcome:
    """Exit status (None: killed after TIMEOUT), stdout and stderr of the block as a script."""
    env = {**os.environ, "PYTHONPATH": _pythonpath(), "ANYMQ_DOCS_HANG": str(TIMEOUT * 0.9)}
    env.pop("ANYMQ_URL", None)
    try:
        done = subprocess.run(
            [sys.executable, str(RUNNER), str(ROOT / block.page), str(block.line)],
            input=code,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            cwd=cwd,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        return None, _text(exc.stdout), _text(exc.stderr)
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize(("block", "broker"), _params())
def test_example(block: Block, broker: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    url = "memory://" if broker == "memory" else str(request.getfixturevalue(f"{broker}_url"))
    code, topics = prepare(block.code, broker, url, block.language)
    try:
        if block.language == "bash":
            returncode, out, err = _run_shell(block, code, tmp_path, _shell_env(broker, url))
        else:
            returncode, out, err = _run(block, code, tmp_path)
    finally:
        if broker != "memory" and topics:
            asyncio.run(_delete(url, topics))
    if returncode is None:
        limit = SHELL_TIMEOUT if block.language == "bash" else TIMEOUT
        pytest.fail(
            f"{block.where} on {broker}: still running after {limit:.0f} s (a hang), killed\n"
            f"{out}{err}--- the code run ---\n{code}",
            pytrace=False,
        )
    if returncode != 0:
        pytest.fail(
            f"{block.where} on {broker}: exit {returncode}\n{out}{err}--- the code run ---\n{code}",
            pytrace=False,
        )
    if block.prints is not None and block.prints not in out:
        pytest.fail(f"{block.where} on {broker}: printed {out!r}, not {block.prints!r}")
