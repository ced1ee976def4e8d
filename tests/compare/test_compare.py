"""``anymq compare`` end to end: the command, its JSON, its HTML in a real browser, Ctrl-C.

The command runs as a user runs it (``python -m anymq.cli compare ...``, a separate process),
against memory:// and every real broker whose backend has landed. The HTML report is opened
in headless Chromium (Debian's ``chromium``): the test fails, never skips, without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

import anymq
from anymq.compare.runner import Comparison, topic_suffix
from anymq.compare.settings import resolve
from anymq.compare.stats import summary as stats_summary
from anymq.compare.terminal import Display
from anymq.errors import ConfigError
from tests.compare.chromium import INSTALL, chromium_path, file_uri, render

ROOT = Path(__file__).resolve().parents[2]
LANDED = [
    kind
    for kind in ("kafka", "rabbitmq", "sqs")
    if (ROOT / "plugins" / f"anymq_{kind}" / "driver.py").exists()
]
SECRET = "s3cr3t-Pw9"
RATIOS = ("produce", "consume", "latency_p50", "latency_p95", "latency_p99")


# -- running the command ------------------------------------------------------------------


def compare_command(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "anymq.cli", "compare", *map(str, args)]


def clean_env() -> dict[str, str]:
    """No broker URLs from the environment: each test says exactly what it compares."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANYMQ_")}
    env["COLUMNS"] = "140"
    return env


def run_compare(
    tmp: Path, *args: str, timeout: float, code: int = 0, env: dict[str, str] | None = None
) -> tuple[str, dict[str, Any], float]:
    started = time.monotonic()
    done = subprocess.run(
        compare_command(*args, "--output", tmp),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or clean_env(),
        cwd=tmp,
        check=False,
    )
    took = time.monotonic() - started
    output = done.stdout + done.stderr
    assert done.returncode == code, f"anymq compare exited {done.returncode}:\n{output}"
    doc = json.loads((tmp / "compare.json").read_text())
    return output, doc, took


def broker(doc: dict[str, Any], ident: str) -> dict[str, Any]:
    return next(b for b in doc["brokers"] if b["id"] == ident)


# -- what the JSON must say -----------------------------------------------------------------


def check_semantics(doc: dict[str, Any], ident: str, *, all_pass: bool) -> None:
    """Every semantic row has a cell for the broker, consistent with what it declares."""
    from anymq.compare.semantics import requirements

    suite = requirements()
    rows = {row["test"]: row for row in doc["semantics"]}
    assert set(suite) <= set(rows), f"rows missing: {sorted(set(suite) - set(rows))}"
    assert len(rows) >= 30
    declared = set(broker(doc, ident)["capabilities"]["features"])
    for test, row in rows.items():
        cell = row["cells"][ident]
        needs = set(row["requires"])
        assert row["label"], test
        if needs - declared:
            assert cell["result"] == "unsupported", (
                f"{ident}: {test} needs {sorted(needs - declared)}, not declared, "
                f"but the cell says {cell['result']}"
            )
        else:
            expected = {"pass"} if all_pass else {"pass", "fail"}
            assert cell["result"] in expected, (
                f"{ident}: {test} declared ({sorted(needs)}) but {cell['result']}: "
                f"{cell.get('message')}"
            )


def check_performance(doc: dict[str, Any], ident: str) -> None:
    from anymq.compare.stats import min_samples

    perf = broker(doc, ident)["performance"]
    assert perf["status"] == "ok", f"{ident}: {perf['status']}: {perf.get('detail')}"
    rounds = len(perf["anymq"]["produce_rates"])
    for key in RATIOS:
        detail = perf["ratio_detail"][key]
        assert detail["value"] == perf["ratios"][key]
        if key.startswith("latency_"):
            q = key.removeprefix("latency_")
            samples = min(perf[side]["latency_ms"]["count"] for side in ("anymq", "raw"))
            assert detail["n"] == samples
            if samples < min_samples(float(q[1:])):  # e.g. p99 of 30 samples is the maximum
                assert perf["ratios"][key] is None, f"{ident}: {key} from {samples} samples"
                assert f"n={samples}, too few for {q}" in detail["note"]
                continue
        else:
            assert detail["n"] == rounds
            assert len(detail["rounds"]) == rounds
        assert perf["ratios"][key] is not None, f"{ident}: no {key} ratio"
        assert perf["ratios"][key] > 0, f"{ident}: {key} ratio {perf['ratios'][key]}"
        if rounds > 1:
            assert detail["min"] <= detail["max"], detail
    for side in ("anymq", "raw"):
        figures = perf[side]
        assert figures["produce_rate"] > 0
        assert figures["consume_rate"] > 0
        assert figures["latency_ms"]["count"] == perf["workload"]["latency_samples"] * len(
            figures["produce_rates"]
        )
        assert sum(figures["latency_histogram"]) == figures["latency_ms"]["count"]
        assert figures["errors"] == []


def check_rendered(html: Path, doc: dict[str, Any], shot: Path) -> None:
    """Open the report in headless Chromium: offline, every chart drawn with visible bars."""
    if chromium_path() is None:
        pytest.fail(f"chromium is not installed; the report test needs it: {INSTALL}")
    rendered = asyncio.run(render(html))
    shot.write_bytes(rendered.screenshot)
    assert rendered.screenshot.startswith(b"\x89PNG"), "no screenshot"
    page = rendered.measured
    assert rendered.requests == [file_uri(html)], f"the page fetched: {rendered.requests}"
    assert page["scripts"] == 0
    assert page["stylesheets"] == 0
    charts = {c["id"]: c for c in page["charts"]}
    measured = [b["id"] for b in doc["brokers"] if b["performance"]["status"] == "ok"]
    expected = {"behaviour-summary", "overhead"}
    expected |= {f"throughput-{i}" for i in measured} | {f"latency-{i}" for i in measured}
    assert expected <= set(charts), f"charts missing: {sorted(expected - set(charts))}"
    for ident, chart in charts.items():
        width, height = chart["size"]
        assert width > 300, f"{ident} is {width}px wide"
        assert height > 100, f"{ident} is {height}px high"
        assert chart["texts"] >= 5, f"{ident} has no title, labels or values"
        assert chart["bars"], f"{ident} drew no bars"
        for bar_width, bar_height in chart["bars"]:
            assert bar_width > 0, f"{ident}: a bar has no width"
            assert bar_height > 0, f"{ident}: a bar has no height"
    assert len(charts["overhead"]["bars"]) == 2 * len(measured)  # produce and consume
    for ident in measured:
        assert len(charts[f"throughput-{ident}"]["bars"]) == 4  # 2 sides x 2 rates
        assert len(charts[f"latency-{ident}"]["bars"]) >= 2
    assert len(charts["behaviour-summary"]["bars"]) >= len(doc["brokers"])
    assert page["rows"] == len(doc["semantics"])
    expected_cells = [
        row["cells"][b["id"]]["result"] for row in doc["semantics"] for b in doc["brokers"]
    ]
    assert page["cells"] == expected_cells, "the matrix does not show what the JSON holds"
    assert page["sparks"] >= 1, "no partition or member spread was drawn"
    check_layout(html, shot)


WIDTHS = (400, 800, 1400)
MIN_CHART_FONT = 11.0


def check_layout(html: Path, shot: Path) -> None:
    """The report at a phone's, a tablet's and a desktop's width: nothing runs off the
    page, no cell's content spills over the next, chart text stays readable, no chart
    label overlaps another or is crossed by the dashed 1.00x line, and only URLs and
    error messages may break inside a word."""
    for width in WIDTHS:
        rendered = asyncio.run(render(html, width=width))
        shot.with_name(f"{shot.stem}-{width}.png").write_bytes(rendered.screenshot)
        page = rendered.measured
        at = f"at {width}px"
        assert page["width"] == width
        assert page["scroll_width"] <= width, f"{at} the page is {page['scroll_width']}px wide"
        assert page["spills"] == [], (
            f"{at} cell content spills over its neighbour: {page['spills']}"
        )
        assert page["anywhere"] == [], f"{at} words may break anywhere in {page['anywhere']}"
        assert page["first_section"] == "glance", "the summary is not the first section"
        assert page["charts"], f"{at} no chart is shown"
        for chart in page["charts"]:
            name = f"{chart['id']} ({chart['variant']}) {at}"
            assert chart["min_font"] >= MIN_CHART_FONT, f"{name}: text {chart['min_font']:.1f}px"
            assert chart["overlaps"] == [], f"{name}: labels overlap: {chart['overlaps']}"
            assert chart["crossed"] == [], f"{name}: the 1.00x line crosses {chart['crossed']}"
            assert chart["clipped"] == [], f"{name}: labels cut off: {chart['clipped']}"
            assert chart["size"][0] <= width


# -- memory:// and an unreachable broker ------------------------------------------------------


LONG_URL = "sqs://127.0.0.1:1?endpoint_url=http://127.0.0.1:1&region=us-east-1&fifo=false"


@pytest.mark.memory
def test_quick_compare_on_memory_with_unreachable_brokers(tmp_path: Path) -> None:
    unreachable = f"amqp://anymq:{SECRET}@127.0.0.1:1/"
    output, doc, took = run_compare(
        tmp_path,
        "--quick",
        "memory://",
        "kafka://127.0.0.1:1",
        unreachable,
        LONG_URL,
        timeout=180,
        code=1,  # a named broker was unreachable
    )
    assert took < 60, f"--quick on memory:// took {took:.0f}s"
    assert [b["id"] for b in doc["brokers"]] == ["memory", "kafka", "rabbitmq", "sqs"]
    assert "exit 1: kafka is unreachable; rabbitmq is unreachable" in output
    glance = output.index("At a glance")
    assert glance < output.index("Brokers") < output.index("Behaviour")
    assert "event broker" in output
    assert "contract tests pass" in output
    assert "Quick mode (--quick)" in output
    assert "asyncio.Queue (no broker)" in output
    assert broker(doc, "memory")["status"] == "ok"
    for ident in ("kafka", "rabbitmq", "sqs"):
        down = broker(doc, ident)
        assert down["status"] == "unreachable"
        assert "127.0.0.1:1" in down["reason"]
        assert down["behaviour"]["status"] == "not run"
        assert down["performance"]["status"] == "not run"
        for row in doc["semantics"]:
            assert row["cells"][ident] == {
                "result": "not run",
                "why": "unreachable",
                "observed": {},
                "notes": [],
            }
    check_semantics(doc, "memory", all_pass=True)
    check_performance(doc, "memory")
    assert broker(doc, "memory")["behaviour"]["status"] == "ok"
    assert doc["leftovers"] == []
    assert doc["interrupted"] is False
    assert doc["environment"]["libraries"]["anymq"] == anymq.__version__
    assert doc["settings"]["urls"][2] == "amqp://anymq:***@127.0.0.1:1"
    html = tmp_path / "compare.html"
    for text in (output, (tmp_path / "compare.json").read_text(), html.read_text()):
        assert SECRET not in text, "a password was shown"
    for title in ("Brokers", "Behaviour", "Performance", "unreachable", "memory"):
        assert title in output
    check_rendered(html, doc, tmp_path / "report.png")


@pytest.mark.memory
def test_only_behaviour_or_only_performance(tmp_path: Path) -> None:
    _, doc, _ = run_compare(tmp_path, "--quick", "--no-performance", "memory://", timeout=120)
    memory = broker(doc, "memory")
    assert memory["performance"]["status"] == "not run"
    check_semantics(doc, "memory", all_pass=True)
    _, doc, _ = run_compare(tmp_path, "--quick", "--no-behaviour", "memory://", timeout=120)
    memory = broker(doc, "memory")
    assert memory["behaviour"]["status"] == "not run"
    assert {row["cells"]["memory"]["result"] for row in doc["semantics"]} == {"not run"}
    check_performance(doc, "memory")


@pytest.mark.memory
def test_unreachable_broker_exits_1_unless_exit_zero(tmp_path: Path) -> None:
    """A broker that was named but not reached fails the run (a CI job must notice);
    --exit-zero (alias --no-fail) reports it and exits 0."""
    args = ("--quick", "--no-behaviour", "--connect-timeout", "1", "memory://")
    output, doc, _ = run_compare(tmp_path, *args, "kafka://127.0.0.1:1", timeout=120, code=1)
    assert broker(doc, "kafka")["status"] == "unreachable"
    assert "exit 1: kafka is unreachable" in output
    for flag in ("--exit-zero", "--no-fail"):
        output, doc, _ = run_compare(
            tmp_path, *args, "kafka://127.0.0.1:1", flag, timeout=120, code=0
        )
        assert "not clean: kafka is unreachable (exit 0: --exit-zero)" in output
    run_compare(tmp_path, *args, timeout=120, code=0)  # everything reached: clean


BLOCK_PYTEST = """\
import sys


class _NoPytest:
    \"\"\"Hides pytest from this interpreter, as on an install without anymq[testing].\"\"\"

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("pytest", "_pytest"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NoPytest())
"""


@pytest.mark.memory
def test_without_pytest_the_report_says_why_and_how_to_fix_it(tmp_path: Path) -> None:
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(BLOCK_PYTEST)
    env = clean_env()
    env["PYTHONPATH"] = os.pathsep.join([str(hide), *filter(None, [env.get("PYTHONPATH")])])
    probe = subprocess.run(
        [sys.executable, "-c", "import pytest"], env=env, capture_output=True, check=False
    )
    assert probe.returncode != 0, "pytest is still importable: the test proves nothing"
    out = tmp_path / "out"
    out.mkdir()
    output, doc, _ = run_compare(
        out, "--quick", "--no-performance", "memory://", timeout=120, code=1, env=env
    )
    fix = "pip install 'anymq[testing]'"
    behaviour = broker(doc, "memory")["behaviour"]
    assert behaviour["status"] == "error"
    assert "needs pytest" in behaviour["detail"]
    assert fix in behaviour["detail"]
    flat = " ".join(output.split())  # the terminal wraps long cells
    assert "the contract suite needs pytest" in flat
    assert "anymq[testing]" in flat
    html = (out / "compare.html").read_text()
    assert "the contract suite needs pytest" in html
    assert "pip install &#x27;anymq[testing]&#x27;" in html


@pytest.mark.memory
def test_ratios_carry_their_sample_size_and_spread() -> None:
    """A percentile from too few samples (p99 of 10 is the maximum) is not shown as a
    plain ratio; rate ratios show n and the range over rounds."""
    from anymq.compare import report_html, report_json, terminal
    from anymq.compare.results import BrokerReport, Performance, Report, Side
    from anymq.compare.targets import targets

    ours = Side("anymq 0", "anymq side", produce_rates=[900.0, 1000.0, 1200.0])
    ours.consume_rates = [500.0, 600.0, 700.0]
    raw = Side("aiobotocore 2.0", "raw side", "the raw side sends straight to SQS")
    raw.produce_rates, raw.consume_rates = [1000.0, 1000.0, 1000.0], [1000.0, 1000.0, 1000.0]
    ours.latencies_ms = [1.0 + i / 10 for i in range(10)]
    raw.latencies_ms = [2.0 + i / 10 for i in range(10)]
    ours.latency_counts = raw.latency_counts = [10]
    perf = Performance(status="ok", anymq=ours, raw=raw)
    details = perf.ratio_details()
    assert details["produce"].value == pytest.approx(1.0)
    assert (details["produce"].low, details["produce"].high) == (0.9, 1.2)
    assert details["produce"].n == 3
    assert details["latency_p50"].value == pytest.approx(1.4 / 2.4)
    for q in ("p95", "p99"):
        assert details[f"latency_{q}"].value is None
        assert (
            details[f"latency_{q}"].note
            == f"n=10, too few for {q} (needs {20 if q == 'p95' else 100})"
        )
    assert perf.ratios()["latency_p99"] is None

    settings = resolve(urls=["sqs://127.0.0.1:1"], flags={"quick": True}, environ={})
    report = Report(
        settings,
        {
            "python": "3",
            "implementation": "CPython",
            "platform": "x",
            "cpus": 2,
            "libraries": {"anymq": "0"},
        },
        datetime.now(UTC),
    )
    report.brokers = [BrokerReport(targets(settings.urls)[0], performance=perf)]
    doc = report_json.build(report)
    buffer = io.StringIO()
    Console(file=buffer, width=200).print(terminal.tables(doc))
    text = buffer.getvalue()
    html = report_html.render(doc)
    for shown in (text, html):
        assert "n=10, too few for p99" in shown
        assert "1.00\u00d7 (0.90\u20131.20 over 3 rounds)" in shown
        assert "the raw side sends straight to SQS" in shown
        assert "Quick mode (--quick)" in shown
        # p99 of 10 samples is each side's maximum: that ratio must not be shown
        plain = stats_summary(ours.latencies_ms)["p99"] / stats_summary(raw.latencies_ms)["p99"]
        assert f"{plain:.2f}\u00d7" not in shown


# -- Ctrl-C -------------------------------------------------------------------------------------


def children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the direct children of pid."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            status = (entry / "status").read_text()
            parent = re.search(r"^PPid:\s+(\d+)", status, re.M)
            if parent and int(parent.group(1)) == pid:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                found.append((int(entry.name), cmdline))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in state


def interrupt(process: subprocess.Popen[bytes], tmp_path: Path) -> dict[str, Any]:
    """Ctrl-C (one SIGINT, as a terminal sends); the run must stop cleanly with exit 130."""
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, f"exit {process.returncode}: {output.decode()}"
    assert "interrupted" in output.decode()
    doc: dict[str, Any] = json.loads((tmp_path / "compare.json").read_text())
    return doc


def start_compare(tmp_path: Path, *args: str) -> subprocess.Popen[bytes]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        compare_command(*args, "--output", tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=clean_env(),
        cwd=tmp_path,
    )


CONTRACT_TOPIC = re.compile(r"^anymq-c[0-9a-f]{6}-")


async def new_topic(url: str, pattern: re.Pattern[str], before: set[str]) -> str:
    """Wait until a topic matching ``pattern`` that was not there ``before`` exists."""
    async with anymq.connect(url) as client:
        deadline = time.monotonic() + 120
        while True:
            fresh = [t for t in await client.list_topics() if pattern.match(t) and t not in before]
            if fresh:
                return fresh[0]
            assert time.monotonic() < deadline, f"no topic matching {pattern.pattern} appeared"
            await asyncio.sleep(0.1)


async def topics(url: str) -> set[str]:
    async with anymq.connect(url) as client:
        return set(await client.list_topics())


def interrupt_during_contract_suite(tmp_path: Path, url: str) -> tuple[dict[str, Any], int]:
    """Start a compare, press Ctrl-C while the contract suite runs; the JSON and the suite's pid.

    On a real broker the signal goes out only once a contract test's topic exists, so the
    test proves that topic is removed; memory:// lives inside the suite's own process.
    """
    real = not url.startswith("memory:")
    before = asyncio.run(topics(url)) if real else set()
    process = start_compare(tmp_path, "--quick", url)
    try:
        deadline = time.monotonic() + 60
        suite: list[tuple[int, str]] = []
        while not suite and time.monotonic() < deadline:
            suite = [c for c in children(process.pid) if "anymq.compare.collector" in c[1]]
            time.sleep(0.1)
        assert suite, "the contract suite never started"
        if real:
            asyncio.run(new_topic(url, CONTRACT_TOPIC, before))
        else:
            wait_for_finished_test(suite[0][1], deadline)
        return interrupt(process, tmp_path), suite[0][0]
    finally:
        if process.poll() is None:
            process.kill()


def wait_for_finished_test(cmdline: str, deadline: float) -> None:
    """Poll the suite's results file (named on its command line) until one test finished."""
    words = cmdline.split()
    results = Path(words[words.index("--anymq-compare-out") + 1])
    while time.monotonic() < deadline:
        if results.exists() and results.read_text(encoding="utf-8").strip():
            return
        time.sleep(0.05)
    raise AssertionError(f"no contract test finished before the deadline ({results})")


def interrupt_during_performance(tmp_path: Path, url: str) -> dict[str, Any]:
    """Start a performance-only compare, press Ctrl-C once its first topic exists."""
    before = asyncio.run(topics(url))
    process = start_compare(tmp_path, "--quick", "--no-behaviour", url)
    try:
        asyncio.run(new_topic(url, re.compile(r"^anymq-cmp-"), before))
        return interrupt(process, tmp_path)
    finally:
        if process.poll() is None:
            process.kill()


@pytest.mark.memory
def test_ctrl_c_stops_the_contract_suite_and_writes_a_partial_report(tmp_path: Path) -> None:
    doc, suite_pid = interrupt_during_contract_suite(tmp_path, "memory://")
    assert not alive(suite_pid), "the contract suite outlived anymq compare"
    assert doc["interrupted"] is True
    assert doc["leftovers"] == []
    memory = broker(doc, "memory")
    assert memory["behaviour"]["status"] == "interrupted"
    assert memory["behaviour"]["exit_code"] is not None
    assert (tmp_path / "compare.html").read_text().count("interrupted") >= 1


@pytest.mark.memory
def test_cancelled_performance_run_removes_its_topics() -> None:
    """Cancellation mid-workload (what Ctrl-C does) deletes every topic the run created."""

    async def scenario() -> None:
        settings = resolve(
            urls=["memory://"], flags={"quick": True, "behaviour": False}, environ={}
        )
        comparison = Comparison(settings, Display(Console(file=io.StringIO())))
        prefix = comparison.tracker.prefix
        task = asyncio.ensure_future(comparison.run())
        async with anymq.connect("memory://") as broker:

            async def ours() -> list[str]:
                return [t for t in await broker.list_topics() if t.startswith(prefix)]

            deadline = asyncio.get_running_loop().time() + 30
            while not await ours():
                assert asyncio.get_running_loop().time() < deadline, "no topic was created"
                await asyncio.sleep(0)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert await ours() == [], "the interrupted run left topics behind"
        assert comparison.report.interrupted
        assert comparison.report.created
        assert comparison.report.leftovers == []

    asyncio.run(scenario())


# -- settings -------------------------------------------------------------------------------


@pytest.mark.memory
def test_default_urls_come_from_the_environment_and_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "anymq-compare.toml"
    config.write_text(
        'urls = ["kafka://10.0.0.1:9092"]\n[workload]\ncount = 123\n'
        "[workload.sqs]\ncount = 7\n[tuning.kafka]\nquiet_period = 0.9\n"
    )
    env = {"ANYMQ_RABBITMQ_URL": "amqp://u:p@h:5672/", "ANYMQ_URL": "memory://"}
    settings = resolve(urls=[], flags={}, environ=env, config_path=config)
    assert settings.urls == ("memory://", "kafka://10.0.0.1:9092", "amqp://u:p@h:5672/")
    assert settings.workload.count == 123
    assert settings.workload_for("sqs").count == 7
    assert settings.workload_for("kafka").count == 123
    assert settings.tuning_for("kafka")["quiet_period"] == 0.9
    assert settings.public()["urls"][2] == "amqp://u:***@h:5672"
    flagged = resolve(urls=["memory://"], flags={"workload": {"count": 50}}, environ=env)
    assert flagged.urls == ("memory://",)
    assert flagged.workload_for("sqs").count == 50, "an explicit --count applies to every broker"


@pytest.mark.memory
def test_bad_settings_are_clear_errors(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[workload]\ncuont = 5\n")
    with pytest.raises(ConfigError, match=r"cuont.*valid: .*count"):
        resolve(urls=[], flags={}, environ={}, config_path=config)
    with pytest.raises(ConfigError, match="nothing to do"):
        resolve(urls=[], flags={"behaviour": False, "performance": False}, environ={})
    with pytest.raises(ConfigError, match="size must be >= 16"):
        resolve(urls=[], flags={"workload": {"size": 8}}, environ={})
    done = subprocess.run(
        compare_command("not-a-url"), capture_output=True, text=True, env=clean_env(), timeout=60
    )
    assert done.returncode == 2
    assert "scheme://" in done.stderr


@pytest.mark.memory
def test_topic_suffix_follows_the_naming_rule() -> None:
    caps = anymq.connect("memory://").capabilities
    assert topic_suffix(caps) == ""
    fifo = anymq.NameRule(r"[A-Za-z0-9_-]{1,75}\.fifo", "names ending in .fifo")
    assert topic_suffix(anymq.Capabilities("sqs", topic_names=fifo), (".fifo",)) == ".fifo"
    assert topic_suffix(anymq.Capabilities("sqs", topic_names=fifo)) == "", "no candidates"


# -- real brokers ---------------------------------------------------------------------------


async def leftovers(kind: str, url: str, doc: dict[str, Any]) -> list[str]:
    """Names on the broker that this run created and did not remove."""
    prefixes = tuple(doc["prefixes"])
    left: list[str] = []
    async with anymq.connect(url) as client:
        left += [t for t in await client.list_topics() if t.startswith(prefixes)]
    if kind == "kafka":
        from aiokafka.admin import AIOKafkaAdminClient

        from anymq_kafka.baseline import connection

        admin = AIOKafkaAdminClient(**connection(url))
        await admin.start()
        try:
            left += [t for t in await admin.list_topics() if t.startswith(prefixes)]
        finally:
            await admin.close()
    elif kind == "rabbitmq":
        import aio_pika

        from anymq_rabbitmq.baseline import amqp_url

        names = [n for c in doc["created"] for n in re.findall(r"(?:exchange|queue) (\S+)", c)]
        amqp = await aio_pika.connect(amqp_url(url))
        async with amqp:
            for name in names:
                channel = await amqp.channel()
                try:
                    if "raw-queue" in name:
                        await channel.declare_queue(name, passive=True)
                    else:
                        await channel.declare_exchange(name, passive=True)
                    left.append(name)
                except aio_pika.exceptions.ChannelClosed:
                    pass
    elif kind == "sqs":
        from anymq_sqs.baseline import _client

        async with _client(url) as sqs:
            for prefix in prefixes:
                answer = await sqs.list_queues(QueueNamePrefix=prefix)
                left += answer.get("QueueUrls", [])
    return left


def real_broker_params() -> list[Any]:
    return [pytest.param(kind, marks=getattr(pytest.mark, kind)) for kind in LANDED]


@pytest.mark.timeout(900)
@pytest.mark.parametrize("kind", real_broker_params())
def test_quick_compare_on_a_real_broker(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = request.getfixturevalue(f"{kind}_url")
    extra = ["--count", "1000", "--latency-samples", "30"] if kind != "sqs" else []
    _, doc, _ = run_compare(tmp_path, "--quick", "--rounds", "1", *extra, url, timeout=1200)
    real = broker(doc, kind)
    assert real["status"] == "ok", real["reason"]
    assert real["behaviour"]["status"] in ("ok", "failed"), real["behaviour"]["detail"]
    check_semantics(doc, kind, all_pass=False)
    check_performance(doc, kind)
    assert doc["leftovers"] == []
    assert asyncio.run(leftovers(kind, url, doc)) == []
    check_rendered(tmp_path / "compare.html", doc, tmp_path / "report.png")


@pytest.mark.timeout(600)
@pytest.mark.parametrize("kind", real_broker_params())
def test_ctrl_c_on_a_real_broker_leaves_nothing_behind(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = request.getfixturevalue(f"{kind}_url")
    doc, suite_pid = interrupt_during_contract_suite(tmp_path / "behaviour", url)
    assert not alive(suite_pid)
    assert doc["interrupted"] is True
    assert doc["leftovers"] == []
    assert asyncio.run(leftovers(kind, url, doc)) == []
    doc = interrupt_during_performance(tmp_path / "performance", url)
    assert doc["interrupted"] is True
    assert doc["created"], "the workload had created nothing when it was interrupted"
    assert doc["leftovers"] == []
    assert asyncio.run(leftovers(kind, url, doc)) == []
