"""One ``anymq compare`` run: probe every broker, run the contract suite, run the workload.

Brokers are handled one after another (the numbers would be worthless if two brokers
competed for the same cores). The report is filled in as the run goes, so an interrupted
run still leaves a truthful partial report, and whatever the run created on a broker is
removed in a ``finally`` block, also after Ctrl-C or an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime

import anymq
from anymq.compare import semantics
from anymq.compare.behaviour import run_contract
from anymq.compare.cleanup import Tracker
from anymq.compare.environment import environment
from anymq.compare.perf.runner import measure
from anymq.compare.probe import probe
from anymq.compare.profile import for_scheme
from anymq.compare.results import BrokerReport, Report
from anymq.compare.settings import Settings
from anymq.compare.targets import targets
from anymq.compare.terminal import Display
from anymq.errors import AnyMQError, InvalidTopicName
from anymq.features import Capabilities

TRACKER_PREFIX = "anymq-cmp"


def topic_suffix(capabilities: Capabilities, candidates: Sequence[str] = ()) -> str:
    """The first of "" and ``candidates`` (the profile's ``topic_suffixes``) that this
    connection's naming rule accepts at the end of a topic name, else ""."""
    for suffix in ("", *candidates):
        try:
            capabilities.topic_names.check(f"anymq-name-check{suffix}")
        except InvalidTopicName:
            continue
        return suffix
    return ""


class Comparison:
    """A run in progress; ``report`` is valid (if partial) at every moment."""

    def __init__(self, settings: Settings, display: Display) -> None:
        self.settings = settings
        self.display = display
        self.tracker = Tracker(TRACKER_PREFIX)
        self.report = Report(
            settings=settings,
            environment=environment(),
            started=datetime.now(UTC),
            brokers=[BrokerReport(t) for t in targets(settings.urls)],
        )
        self.report.prefixes = [self.tracker.prefix, self.contract_prefix]

    @property
    def contract_prefix(self) -> str:
        """Topic prefix of this run's contract suites (shorter than the suite's default)."""
        return f"anymq-c{self.tracker.run_id[:6]}"

    async def run(self) -> None:
        try:
            await self._probe_all()
            if self.settings.behaviour:
                for broker in self._reachable():
                    await self._behaviour(broker)
            if self.settings.performance:
                for broker in self._reachable():
                    await self._performance(broker)
        except (asyncio.CancelledError, KeyboardInterrupt):
            self.report.interrupted = True
            raise
        finally:
            await self._cleanup()
            self.report.finished = datetime.now(UTC)

    def exit_code(self) -> int:
        """0: every broker was reached and ran cleanly; 1: otherwise (see ``problems``)."""
        return 1 if self.problems() else 0

    def problems(self) -> list[str]:
        """Why the run did not go cleanly, one line per broker: an unreachable or
        unavailable broker (it was named, so a CI job must not pass without it), a failed
        contract test, a suite that could not run, a workload that broke."""
        out = []
        for broker in self.report.brokers:
            ident = broker.target.id
            if broker.status != "ok":
                out.append(f"{ident} is {broker.status}")
                continue
            behaviour = broker.behaviour
            if behaviour.status == "failed":
                failed = behaviour.counts()["fail"]
                out.append(f"{ident} failed {failed} contract test{'s' if failed > 1 else ''}")
            elif behaviour.status == "error":
                out.append(f"{ident}: the contract suite could not run")
            if broker.performance.status == "error":
                out.append(f"{ident}: the workload broke")
        return out

    def _reachable(self) -> list[BrokerReport]:
        return [b for b in self.report.brokers if b.status == "ok"]

    async def _probe_all(self) -> None:
        timeout = self.settings.connect_timeout
        self.display.start("probe", "all", "checking the brokers", len(self.report.brokers))
        for broker in self.report.brokers:
            found = await probe(broker.target.url, timeout)
            broker.status = found.status
            broker.reason = broker.target.redact(found.reason) if found.reason else None
            broker.backend = found.backend
            broker.capabilities = found.capabilities
            self.display.advance("probe", f"{broker.target.id}: {found.status}")
            if found.status != "ok":
                self.display.log(
                    f"[yellow]{broker.target.id}[/] ({broker.target.shown}) is {found.status}: "
                    f"{broker.reason}; its column will say so"
                )
        reachable = len(self._reachable())
        self.display.finish("probe", f"{reachable} of {len(self.report.brokers)} reachable")
        for broker in self._reachable():
            ident = broker.target.id
            if self.settings.behaviour:
                self.display.start(f"{ident}:behaviour", ident, "behaviour: waiting", None)
            if self.settings.performance:
                rounds = self.settings.workload_for(broker.target.kind).rounds * 2
                self.display.start(f"{ident}:performance", ident, "performance: waiting", rounds)

    async def _behaviour(self, broker: BrokerReport) -> None:
        target = broker.target
        key = f"{target.id}:behaviour"
        self.display.advance(key, "behaviour: starting the contract suite")
        tuning: dict[str, object] = dict(self.settings.tuning_for(target.kind))
        tuning["topic_prefix"] = self.contract_prefix
        profile = for_scheme(target.scheme)
        test_timeout = self.settings.test_timeout
        suite_target = target
        if profile is not None:
            test_timeout = max(test_timeout, profile.min_test_timeout)
            suite_target = dataclasses.replace(target, url=profile.suite_url(target.url))
        if broker.capabilities is not None:
            suffixes = profile.topic_suffixes if profile is not None else ()
            tuning["topic_suffix"] = topic_suffix(broker.capabilities, suffixes)

        def on_event(event: dict[str, object]) -> None:
            if event.get("event") == "collected":
                tests = event.get("tests")
                self.display.total(key, len(tests) if isinstance(tests, list) else 0)
            elif event.get("event") == "start":
                label = semantics.semantic(str(event.get("name"))).label
                self.display.describe(key, f"behaviour: running \u201c{label}\u201d")
            elif event.get("event") == "test":
                label = semantics.semantic(str(event.get("name"))).label
                verdict = "✗" if event.get("outcome") == "failed" else "✓"
                self.display.advance(key, f"behaviour: {verdict} {label}")

        # The suite deletes its topics itself; a Ctrl-C that lands while a test is cleaning
        # up can still cut that short, so whatever carries this run's prefix afterwards goes.
        sweep = self.tracker.add(
            f"contract-suite topics {self.contract_prefix}-* on {target.id}",
            lambda: self._sweep(target.url, f"{self.contract_prefix}-"),
            record=False,
        )
        try:
            await run_contract(
                suite_target, tuning, test_timeout, on_event, result=broker.behaviour
            )
        finally:
            await self.tracker.undo(sweep)
        counts = broker.behaviour.counts()
        self.display.finish(
            key,
            f"behaviour: {broker.behaviour.status}: {counts['pass']} \u2713 "
            f"{counts['fail']} \u2717 {counts['unsupported']} not supported",
        )

    async def _performance(self, broker: BrokerReport) -> None:
        target = broker.target
        key = f"{target.id}:performance"
        assert broker.capabilities is not None  # reachable brokers have them
        workload = self.settings.workload_for(target.kind)
        await measure(
            target,
            workload,
            broker.capabilities,
            self.tracker,
            lambda text: self.display.advance(key, f"performance: {text}"),
            result=broker.performance,
        )
        self.display.finish(key, f"performance: {broker.performance.status}")

    async def _sweep(self, url: str, prefix: str) -> None:
        """Delete every topic named ``prefix...`` (what an interrupted suite left behind)."""
        async with anymq.connect(url) as broker:
            for name in await broker.list_topics():
                if name.startswith(prefix):
                    with contextlib.suppress(AnyMQError):
                        await broker.delete_topic(name)
                        self.report.swept.append(name)

    async def _cleanup(self) -> None:
        failures = await self.tracker.cleanup()
        self.report.created = list(self.tracker.created)
        by_id = {b.target.id: b.target for b in self.report.brokers}
        for failure in failures:
            for target in by_id.values():
                failure = target.redact(failure)
            self.report.leftovers.append(failure)
