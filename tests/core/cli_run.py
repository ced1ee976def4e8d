"""Running the ``anymq`` command in a subprocess for tests: bytes in, bytes out."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).with_name("anymq")
"""The installed console script (scripts/setup.sh installs it); PYTHONPATH makes it import
this checkout, so the tests run what a user runs: the entry point, not ``python -m``."""


def env(**extra: str) -> dict[str, str]:
    """A clean environment that imports this checkout's anymq, UTF-8, no ANYMQ_URL."""
    path = os.pathsep.join([str(ROOT / "src"), str(ROOT / "plugins"), str(ROOT)])
    return {"PATH": "/usr/bin:/bin", "PYTHONPATH": path, "LC_ALL": "C.UTF-8", **extra}


def anymq(
    *args: str, stdin: bytes = b"", timeout: float = 60, **extra: str
) -> subprocess.CompletedProcess[bytes]:
    """``anymq ARGS`` (the console script) with ``stdin``; stdout and stderr as bytes."""
    assert SCRIPT.exists(), f"no console script at {SCRIPT}: run scripts/setup.sh"
    return subprocess.run(
        [str(SCRIPT), *args],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        env=env(**extra),
    )


def script(
    code: str, stdin: bytes = b"", timeout: float = 60
) -> subprocess.CompletedProcess[bytes]:
    """Several CLI calls in one process (memory:// lives in one process): ``main`` is
    imported, ``sys`` too; the code decides the exit code."""
    return subprocess.run(
        [sys.executable, "-c", f"import sys\nfrom anymq.cli import main\n{code}"],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        env=env(),
    )


def text(data: bytes) -> str:
    return data.decode(errors="replace")
