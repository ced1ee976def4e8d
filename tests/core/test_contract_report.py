"""What the contract suite prints says what it proved (issue 14 item 3).

Each test runs the suite as a user does, ``python -m pytest --pyargs anymq.testing``, in a
subprocess on memory:// (or on ``tests.core.lossy_backend``), and reads its output:

- a test that proved a refusal is "UNSUPPORTED (proven to refuse)", counted apart in the
  summary line, and the run still succeeds (it printed PASSED);
- the header names the backend, the URL with its password masked and the declared features;
- the shipped module's tests have short ids, also when anymq is installed in a
  ``.venv`` inside the project (they were ``.venv/lib/python3.11/site-packages/...``);
- a backend that loses messages fails each delivery test within seconds, naming the lost
  message (each waited out the 30 s delivery timeout: 9 minutes for the suite).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import anymq
from anymq.compare.results import TestResult

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [Path(anymq.__file__).parent, *sorted((ROOT / "plugins").glob("anymq_*"))]
TWO = "test_delayed_delivery or test_batch_send"
"""memory:// does not declare delayed delivery (proven to refuse) and does batches."""


def run_suite(
    *args: str,
    cwd: Path,
    path: list[Path] | None = None,
    timeout: float = 120,
    anymq_url: str | None = None,
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("ANYMQ_URL", None)
    env.pop("PYTEST_ADDOPTS", None)
    if anymq_url is not None:
        env["ANYMQ_URL"] = anymq_url
    if path is not None:
        env["PYTHONPATH"] = os.pathsep.join(str(p) for p in path)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--color=no", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_a_proven_refusal_is_its_own_outcome(tmp_path: Path) -> None:
    run = run_suite(
        "-v", "--pyargs", "anymq.testing", "--anymq-url", "memory://", "-k", TWO, cwd=tmp_path
    )
    out = run.stdout
    assert run.returncode == 0, out
    assert "::test_delayed_delivery UNSUPPORTED (proven to refuse)" in out, out
    assert "::test_batch_send PASSED" in out, out
    summary = out.strip().splitlines()[-1]
    assert "1 passed" in summary, summary
    assert "1 unsupported" in summary, summary
    assert "proven to refuse (UnsupportedFeature): delayed_delivery (1 test)" in out, out


def test_quiet_run_shows_the_letter_and_names_the_backend(tmp_path: Path) -> None:
    run = run_suite(
        "-q", "--pyargs", "anymq.testing", "--anymq-url", "memory://", "-k", TWO, cwd=tmp_path
    )
    assert run.returncode == 0, run.stdout
    assert "U" in run.stdout.splitlines()[0], run.stdout
    assert "on 'memory' at memory://" in run.stdout, run.stdout


def test_the_header_names_backend_masked_url_and_features(tmp_path: Path) -> None:
    secret = "s3cr3t-Pa55"
    run = run_suite(
        "--co",
        "--pyargs",
        "anymq.testing",
        "--anymq-url",
        f"amqp://guest:{secret}@127.0.0.1:1/",
        cwd=tmp_path,
    )
    out = run.stdout
    assert secret not in out + run.stderr
    assert "anymq: contract suite on backend 'rabbitmq' at amqp://guest:***@127.0.0.1:1" in out
    assert "anymq: declares: broadcast, consumer_groups, " in out, out
    assert "not declared (its tests prove UnsupportedFeature): " in out, out


def test_the_header_also_for_anymq_url_in_the_environment(tmp_path: Path) -> None:
    env_url = "memory://from-env"
    run = run_suite("--co", "--pyargs", "anymq.testing", cwd=tmp_path, anymq_url=env_url)
    assert f"backend 'memory' at {env_url} ($ANYMQ_URL)" in run.stdout, run.stdout


def test_ids_are_short_when_anymq_is_installed_in_the_project(tmp_path: Path) -> None:
    """anymq installed in ``<project>/.venv``: pytest's rootdir is the project, so the
    shipped module's id was its whole path in site-packages."""
    site = tmp_path / ".venv" / "lib" / "python3.11" / "site-packages"
    for source in SOURCES:
        shutil.copytree(source, site / source.name, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\n", encoding="utf-8")
    args = ["-v", "--pyargs"]
    run = run_suite(*args, "anymq.testing", "-k", "test_batch_send", cwd=tmp_path, path=[site])
    assert run.returncode == 0, run.stdout + run.stderr
    lines = [line for line in run.stdout.splitlines() if "::test_batch_send" in line]
    assert [line.split()[:2] for line in lines] == [
        ["anymq.testing.test_contract::TestContract::test_batch_send", "PASSED"]
    ], run.stdout
    # The short id is one pytest takes back to run that test alone.
    again = run_suite(
        *args,
        "anymq.testing.test_contract::TestContract::test_batch_send",
        cwd=tmp_path,
        path=[site],
    )
    assert "1 passed" in again.stdout, again.stdout + again.stderr


def test_a_lossy_backend_fails_fast_naming_the_lost_message(tmp_path: Path) -> None:
    """lossy:// confirms and drops every 7th message. Each test below sends more than 7
    and fails; it used to wait out the 30 s delivery timeout (the per-key ones then failed
    with a bare TimeoutError)."""
    report = tmp_path / "junit.xml"
    selected = (
        "test_per_key_order_across_keys_and_partitions or test_key_order_holds_while or "
        "test_group_members_share or test_every_group_gets_every_message or test_batch_send"
    )
    run = run_suite(
        "-q",
        "-p",
        "tests.core.lossy_backend",
        "--pyargs",
        "anymq.testing",
        "--anymq-url",
        "lossy://",
        "-k",
        selected,
        f"--junitxml={report}",
        cwd=tmp_path,
        path=[ROOT, ROOT / "src", ROOT / "plugins"],
        timeout=90,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    cases = ET.parse(report).getroot().iter("testcase")
    seen = {}
    for case in cases:
        failure = case.find("failure")
        assert failure is not None, f"{case.get('name')} passed on a lossy backend"
        seen[case.get("name")] = (float(case.get("time", "0")), failure.text or "")
    assert len(seen) == 5, seen
    for name, (seconds, message) in seen.items():
        assert seconds < 10, f"{name} took {seconds:.1f}s to find the loss: {message}"
        assert "was expected to receive" in message, (name, message)
        assert "missing" in message or "lost" in message, (name, message)
        assert "stopped waiting" in message, (name, message)


@pytest.mark.parametrize("word", ["passed", "unsupported"])
def test_results_jsonl_for_compare_keeps_pytest_outcome_and_property(
    tmp_path: Path, word: str
) -> None:
    """anymq compare reads pytest's own outcome (still "passed") and ``anymq_outcome``."""
    out = tmp_path / "results.jsonl"
    name = "test_batch_send" if word == "passed" else "test_delayed_delivery"
    run = run_suite(
        "-q",
        "-p",
        "anymq.compare.collector",
        f"--anymq-compare-out={out}",
        "--pyargs",
        "anymq.testing",
        "-k",
        name,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout
    records = [json.loads(line) for line in out.read_text().splitlines()]
    [test] = [TestResult.from_record(r) for r in records if r.get("event") == "test"]
    assert test.name == name
    assert test.result == ("pass" if word == "passed" else "unsupported")
