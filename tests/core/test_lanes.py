"""scripts/lanes.py splits the suite into parallel lanes: together they must run every test
exactly once. A lane that missed a new marker would silently drop tests from CI."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def _lanes() -> object:
    spec = importlib.util.spec_from_file_location("lanes", ROOT / "scripts" / "lanes.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("lanes", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _collected(args: list[str]) -> list[str]:
    done = subprocess.run(
        [*args, "--collect-only", "-q", "-o", "addopts="],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode in (0, 5), done.stdout[-2000:] + done.stderr[-2000:]
    return [line for line in done.stdout.splitlines() if "::" in line]


def test_the_lanes_run_every_test_exactly_once() -> None:
    lanes = _lanes()
    everything = _collected([sys.executable, "-m", "pytest", "-p", "no:cacheprovider"])
    seen: dict[str, str] = {}
    for name, marks, where in lanes.LANES:  # type: ignore[attr-defined]
        command = lanes.command(marks, where, [])  # type: ignore[attr-defined]
        mine = _collected(command)
        assert mine, f"lane {name} runs no test"
        for test in mine:
            assert test not in seen, f"{test} runs in lanes {seen[test]} and {name}"
            seen[test] = name
    missing = sorted(set(everything) - set(seen))
    assert not missing, f"{len(missing)} tests run in no lane, e.g. {missing[:5]}"
    assert len(seen) == len(everything)
