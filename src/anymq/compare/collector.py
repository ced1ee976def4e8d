"""pytest plugin loaded into the contract-suite subprocess: one JSON line per finished test.

``anymq compare`` runs ``pytest --pyargs anymq.testing -p anymq.compare.collector`` per
broker. This plugin registers the anymq plugins the parent had registered at run time
(``--anymq-compare-plugins``), sets the suite's waiting knobs for that broker, and writes
to ``--anymq-compare-out`` a ``collected`` line, then a ``test`` line as each test ends
(the parent reads them for its progress bar), then ``finished``. Each test line holds the
outcome and the test's ``user_properties`` (``anymq_outcome``, ``anymq_observed:<key>``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import IO, Any

import pytest

from anymq import plugins

_PHASES_FAILED = {"setup": "error in setup", "teardown": "error in teardown"}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("anymq-compare")
    group.addoption("--anymq-compare-out", default=None, help="JSON-lines file for results")
    group.addoption(
        "--anymq-compare-tuning",
        default="{}",
        help="JSON object of ContractSuite class attributes (waiting knobs, topic prefix)",
    )
    group.addoption(
        "--anymq-compare-plugins",
        default="[]",
        help="JSON list of anymq plugins to register: {name, ref: 'module:attr', path}",
    )


def pytest_configure(config: pytest.Config) -> None:
    plugins.register_entries(json.loads(config.getoption("--anymq-compare-plugins")))
    out = config.getoption("--anymq-compare-out")
    if out:
        tuning = json.loads(config.getoption("--anymq-compare-tuning"))
        config.pluginmanager.register(Collector(Path(out), tuning), "anymq-compare-collector")


class Collector:
    """Accumulates the phases of each test and writes one line when its teardown is done."""

    def __init__(self, path: Path, tuning: dict[str, Any]) -> None:
        self.tuning = tuning
        self._file: IO[str] = path.open("a", encoding="utf-8")
        self._tests: dict[str, dict[str, Any]] = {}

    def _write(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record, default=repr) + "\n")
        self._file.flush()

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        from anymq.testing.suite import ContractSuite

        for item in items:
            cls = getattr(item, "cls", None)
            if isinstance(cls, type) and issubclass(cls, ContractSuite):
                for name, value in self.tuning.items():
                    setattr(cls, name, value)
        self._write({"event": "collected", "tests": [_name(item.nodeid) for item in items]})

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        """Which test runs now, for the progress display (a test may take a minute)."""
        self._write({"event": "start", "name": _name(nodeid)})

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        state = self._tests.setdefault(
            report.nodeid,
            {"outcome": "passed", "message": None, "seconds": 0.0, "started": time.time()},
        )
        state["seconds"] += report.duration
        if report.failed and state["outcome"] != "failed":
            state["outcome"] = "failed"
            state["message"] = _message(report)
        elif report.skipped and state["outcome"] == "passed":
            state["outcome"] = "skipped"
            state["message"] = _message(report)
        if report.when == "teardown":
            self._write(
                {
                    "event": "test",
                    "name": _name(report.nodeid),
                    "outcome": state["outcome"],
                    "seconds": round(state["seconds"], 3),
                    "message": state["message"],
                    "properties": [[k, v] for k, v in report.user_properties],
                }
            )
            del self._tests[report.nodeid]

    def pytest_sessionfinish(self, exitstatus: int) -> None:
        self._write({"event": "finished", "exitstatus": int(exitstatus)})
        self._file.close()


def _name(nodeid: str) -> str:
    return nodeid.split("::")[-1].split("[")[0]


def _message(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = str(getattr(crash, "message", "") or "")
    if not text:
        if isinstance(report.longrepr, tuple):  # skipped: (file, line, reason)
            text = str(report.longrepr[-1])
        else:
            lines = str(report.longrepr or "").strip().splitlines()
            text = lines[-1] if lines else ""
    prefix = _PHASES_FAILED.get(report.when, "")
    text = " ".join(str(text).split())
    if len(text) > 400:
        text = text[:397] + "..."
    return f"{prefix}: {text}" if prefix else text
