"""What the contract suite proved, in pytest's own terminal output.

A test of an undeclared feature passes by proving the backend refuses it (UnsupportedFeature);
shown as PASSED it read as "works here". It is its own outcome instead: ``U`` /
``UNSUPPORTED (proven to refuse)``, counted in the summary line ("80 passed, 6 unsupported")
and still a success. The header names the backend, the URL (password masked) and what it
declares; the terminal summary says, per suite class, which broker it ran on and what was
proven. The suite's shipped module gets the short node id ``anymq.testing.test_contract``
instead of its path in site-packages (``pytest --pyargs`` takes it back as it is).
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import anymq
from anymq.errors import AnyMQError
from anymq.features import Capabilities, Feature

UNSUPPORTED = "unsupported"
"""The report category (and ``anymq_outcome`` property) of a test that proved a refusal."""
UNSUPPORTED_WORD = "UNSUPPORTED (proven to refuse)"
SHIPPED_MODULE = Path(__file__).with_name("test_contract.py")
SHIPPED_ID = "anymq.testing.test_contract"
REPORT_PLUGIN = "anymq-proof-report"
CONTRACT_MARK = "anymq_contract_suite"
"""A class attribute every contract-suite class has (ContractSuite sets it)."""


def proof_report(config: pytest.Config) -> ProofReport | None:
    """The run's :class:`ProofReport` (None where the plugin is not loaded)."""
    found = config.pluginmanager.get_plugin(REPORT_PLUGIN)
    return found if isinstance(found, ProofReport) else None


@dataclass
class Target:
    """The broker one suite class ran against."""

    backend: str
    url: str
    """Rendered with the password masked."""
    features: frozenset[Feature]


@dataclass
class SuiteTally:
    """Outcomes of one suite class."""

    target: Target | None = None
    outcomes: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    """Undeclared feature -> tests that proved its refusal."""


def describe(url: str) -> Target:
    """The backend, masked URL and declared features of ``url`` (no connection is made)."""
    broker = anymq.connect(url)
    return target_of(broker.backend, str(broker.url), broker.capabilities)


def target_of(backend: str, url: str, capabilities: Capabilities) -> Target:
    return Target(backend, url, capabilities.features)


def feature_lines(target: Target, indent: str = "") -> list[str]:
    declared = ", ".join(sorted(f.value for f in target.features)) or "none"
    missing = sorted(f.value for f in Feature if f not in target.features)
    lines = [f"{indent}declares: {declared}"]
    if missing:
        lines.append(
            f"{indent}not declared (its tests prove UnsupportedFeature): {', '.join(missing)}"
        )
    return lines


def url_source(config: pytest.Config) -> tuple[str, str] | None:
    """The URL the ``anymq_url`` fixture hands out and where it came from, when this run
    is about it: ``--anymq-url``, ``$ANYMQ_URL``, or the shipped suite run by name."""
    option: str | None = config.getoption("--anymq-url")
    if option:
        return option, "--anymq-url"
    env = os.environ.get("ANYMQ_URL")
    if env:
        return env, "$ANYMQ_URL"
    if any(str(arg).startswith("anymq.testing") for arg in config.args):
        return "memory://", "the default"
    return None


class ProofReport:
    """pytest hooks that show what the contract suite proved (registered by the plugin)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.suites: dict[str, SuiteTally] = defaultdict(SuiteTally)
        self.suite_of: dict[str, str] = {}
        """Test node id -> its suite class's node id (contract tests only)."""

    # -- identity --------------------------------------------------------------------------
    def note_target(self, item: pytest.Item, target: Target) -> None:
        """The ``ctx`` fixture of a test in ``item``'s class opened ``target``."""
        suite = self.suite_of.get(item.nodeid)
        if suite is not None:
            self.suites[suite].target = target

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            cls = getattr(item, "cls", None)
            if getattr(cls, CONTRACT_MARK, False) and item.parent:
                self.suite_of[item.nodeid] = item.parent.nodeid

    # -- the outcome -----------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(
        self, report: pytest.TestReport
    ) -> tuple[str, str, tuple[str, dict[str, bool]]] | None:
        if report.when == "call" and report.passed and unsupported(report):
            return UNSUPPORTED, "U", (UNSUPPORTED_WORD, {"yellow": True})
        return None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        suite = self.suite_of.get(report.nodeid)
        if suite is None:
            return
        tally = self.suites[suite]
        if report.failed:
            tally.outcomes["failed" if report.when == "call" else "error"] += 1
        elif report.skipped:
            tally.outcomes["skipped"] += 1
        elif report.when == "call":
            if unsupported(report):
                tally.outcomes[UNSUPPORTED] += 1
                for feature in properties(report, "anymq_observed:unsupported"):
                    tally.refused[str(feature)] += 1
            else:
                tally.outcomes["passed"] += 1

    # -- header and summary ----------------------------------------------------------------
    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        source = url_source(config)
        if source is None:
            return []
        url, where = source
        try:
            target = describe(url)
        except AnyMQError as exc:
            return [f"anymq: {where} cannot be opened: {exc}"]
        return [
            f"anymq: contract suite on backend {target.backend!r} at {target.url} ({where})",
            *feature_lines(target, "anymq: "),
        ]

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        ran = {k: v for k, v in self.suites.items() if v.outcomes}
        if not ran or terminalreporter.verbosity < -1:
            return
        terminalreporter.write_sep("=", "anymq contract suite: what was proven")
        # The header lists the features of the --anymq-url run; -q shows no header.
        shown_features = terminalreporter.verbosity >= 0 and url_source(self.config) is None
        for suite, tally in ran.items():
            terminalreporter.write_line(suite_line(suite, tally))
            if tally.target is not None and shown_features:
                for line in feature_lines(tally.target, "    "):
                    terminalreporter.write_line(line)
            if tally.refused:
                refused = ", ".join(
                    f"{f} ({n} test{'s' if n > 1 else ''})"
                    for f, n in sorted(tally.refused.items())
                )
                terminalreporter.write_line(f"    proven to refuse (UnsupportedFeature): {refused}")

    # -- short ids for the shipped module --------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_pycollect_makemodule(
        self, module_path: Path, parent: pytest.Collector
    ) -> pytest.Module | None:
        if module_path != SHIPPED_MODULE:
            return None
        return pytest.Module.from_parent(parent, path=module_path, nodeid=SHIPPED_ID)


def suite_line(suite: str, tally: SuiteTally) -> str:
    counts = tally.outcomes
    parts = [f"{counts['passed']} proven"]
    if counts[UNSUPPORTED]:
        parts.append(f"{counts[UNSUPPORTED]} unsupported (proven to refuse)")
    for word in ("failed", "error", "skipped"):
        if counts[word]:
            parts.append(f"{counts[word]} {word}")
    where = ""
    if tally.target is not None:
        where = f" on {tally.target.backend!r} at {tally.target.url}"
    return f"{suite}{where}: {', '.join(parts)}"


def properties(report: pytest.TestReport, key: str) -> list[object]:
    return [value for name, value in report.user_properties if name == key]


def unsupported(report: pytest.TestReport) -> bool:
    return UNSUPPORTED in properties(report, "anymq_outcome")
