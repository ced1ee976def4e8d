"""Run the contract suite against one broker in a subprocess and collect every outcome.

The subprocess is ``python -m pytest --pyargs anymq.testing`` with the
:mod:`anymq.compare.collector` plugin, in its own session so that a Ctrl-C in the terminal
reaches only ``anymq compare``, which then forwards one SIGINT: pytest stops the running
test, whose cleanup (``ctx.aclose_test``) deletes its topics, and exits. The broker URL
goes through ``$ANYMQ_URL``, never the command line, so ``ps`` never shows a password.
Plugins registered at run time (``anymq.plugins.register``, e.g. by an application that
embeds its own backend) are registered in the subprocess too, so they get the suite as well.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from anymq import plugins
from anymq.compare.results import Behaviour, TestResult
from anymq.compare.targets import Target

OnEvent = Callable[[dict[str, Any]], None]

INTERRUPT_GRACE = 30.0
"""Seconds the suite gets after SIGINT to clean up before it is killed."""
SUITE_TESTS = 40
"""The whole suite may take this many test timeouts (it has 35 tests, each bounded)."""


class JsonLines:
    """Reads the lines a growing file gained since the last call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""

    def read(self) -> list[dict[str, Any]]:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
        except FileNotFoundError:
            return []
        self._offset += len(data)
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()
        out = []
        for line in lines:
            if line.strip():
                with contextlib.suppress(json.JSONDecodeError):
                    out.append(json.loads(line))
        return out


NO_PYTEST = (
    "the contract suite needs pytest, which is not installed for {python}: "
    "pip install 'anymq[testing]'"
)


def pytest_missing() -> str | None:
    """Why the suite cannot start here (pytest is not importable), with the fix; else None."""
    try:
        found = importlib.util.find_spec("pytest") is not None
    except (ImportError, ValueError):
        found = False
    return None if found else NO_PYTEST.format(python=sys.executable)


def runtime_plugins() -> list[dict[str, str]]:
    """Plugins registered in this process other than through entry points, as the
    ``module:attr`` and import root the suite's process needs to register them again.

    Only modules and named classes or functions can be found again; anything else (an
    instance) is left out, and the suite then reports the backend as unknown.
    """
    manager = plugins.plugin_manager()
    installed = {id(plugin) for plugin, _ in manager.list_plugin_distinfo()}
    found: list[dict[str, str]] = []
    for name, plugin in manager.list_name_plugin():
        if plugin is None or id(plugin) in installed or name == "anymq.builtins":
            continue
        if isinstance(plugin, ModuleType):
            module, attr = plugin.__name__, ""
        else:
            module = getattr(plugin, "__module__", "")
            attr = getattr(plugin, "__qualname__", "")
            if not module or not attr or "<" in attr:
                continue
        root = _import_root(sys.modules.get(module))
        if root is not None:
            found.append({"name": name, "ref": f"{module}:{attr}", "path": root})
    return found


def _import_root(module: ModuleType | None) -> str | None:
    """The sys.path entry ``module`` was imported from."""
    location = getattr(module, "__file__", None)
    if module is None or location is None:
        return None
    path = Path(location).resolve()
    depth = module.__name__.count(".") + (1 if path.stem == "__init__" else 0)
    return str(path.parents[depth])


def command(
    out: Path,
    ini: Path,
    tuning: dict[str, Any],
    test_timeout: float,
    extra_plugins: list[dict[str, str]] | None = None,
) -> list[str]:
    """The pytest command line (no URL in it: that goes through the environment)."""
    return [
        sys.executable,
        "-m",
        "pytest",
        "--pyargs",
        "anymq.testing",
        "-c",
        str(ini),
        "--rootdir",
        str(ini.parent),
        "-p",
        "no:cacheprovider",
        "-p",
        "anymq.compare.collector",
        "--anymq-compare-out",
        str(out),
        "--anymq-compare-tuning",
        json.dumps(tuning),
        "--anymq-compare-plugins",
        json.dumps(extra_plugins or []),
        "--anymq-timeout",
        f"{test_timeout:g}",
        "-q",
        "--color=no",
        "-o",
        "addopts=",
    ]


async def run_contract(
    target: Target,
    tuning: dict[str, Any],
    test_timeout: float,
    on_event: OnEvent,
    result: Behaviour | None = None,
) -> Behaviour:
    """The suite's result on ``target``, filled into ``result`` as tests finish.

    On cancellation (Ctrl-C) the suite is interrupted cleanly and ``result`` keeps what
    had finished, with status "interrupted".
    """
    started = time.perf_counter()
    if result is None:
        result = Behaviour()
    missing = pytest_missing()
    if missing is not None:
        result.status = "error"
        result.detail = missing
        return result
    result.status = "ok"
    with tempfile.TemporaryDirectory(prefix="anymq-compare-") as tmp:
        folder = Path(tmp)
        ini = folder / "pytest.ini"
        ini.write_text("[pytest]\n", encoding="utf-8")
        out, log = folder / "results.jsonl", folder / "pytest.log"
        env = dict(os.environ, ANYMQ_URL=target.url, PYTHONUNBUFFERED="1")
        env.pop("PYTEST_ADDOPTS", None)
        reader = JsonLines(out)

        def absorb() -> None:
            for event in reader.read():
                if event.get("event") == "collected":
                    result.expected = list(event.get("tests", []))
                elif event.get("event") == "test":
                    test = TestResult.from_record(event)
                    if test.message:
                        test.message = target.redact(test.message)
                    result.tests[test.name] = test
                on_event(event)

        with log.open("wb") as log_file:
            process = await asyncio.create_subprocess_exec(
                *command(out, ini, tuning, test_timeout, runtime_plugins()),
                cwd=folder,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
            limit = SUITE_TESTS * test_timeout
            overran = False
            try:
                while process.returncode is None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(process.wait(), 0.2)
                    absorb()
                    if time.perf_counter() - started > limit:
                        overran = True  # every test is bounded; this is a stuck process
                        await interrupt(process)
            except BaseException:
                result.status = "interrupted"
                await interrupt(process)
                absorb()
                raise
            finally:
                result.seconds = round(time.perf_counter() - started, 3)
                result.exit_code = process.returncode
        absorb()
        if overran:
            result.status = "error"
            result.detail = f"the contract suite was stopped after {limit:g}s"
        elif process.returncode not in (0, 1) or not result.tests:
            result.status = "error"  # pytest could not run the suite at all
            output = tail(log)
            if "No module named pytest" in output or "No module named 'pytest'" in output:
                output = f"{NO_PYTEST.format(python=sys.executable)}\n{output}"
            result.detail = target.redact(output)
        elif result.counts()["fail"]:
            result.status = "failed"
    return result


async def interrupt(process: asyncio.subprocess.Process) -> None:
    """SIGINT, then wait for the suite's own cleanup; kill it only if that hangs."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(process.wait(), INTERRUPT_GRACE)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


def tail(log: Path, lines: int = 15) -> str:
    """The end of pytest's output, for a report of why the suite could not run."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "pytest wrote no output"
    return "\n".join(text.strip().splitlines()[-lines:])
