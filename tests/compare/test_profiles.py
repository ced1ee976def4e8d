"""Backends own their compare profile: compare names no broker, and a third-party backend
registered at run time gets the same report as a built-in one."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from anymq import plugins
from anymq.compare.__main__ import main
from anymq.compare.profile import profile_of, profiles
from tests.compare import memtest
from tests.compare.test_compare import broker, check_performance, check_semantics

COMPARE = Path(__file__).resolve().parents[2] / "src" / "anymq" / "compare"


def backend_words() -> set[str]:
    """Every name by which an installed backend could be special-cased."""
    words = {"moto", "localstack"}
    for scheme, spec in plugins.backends().items():
        profile = profile_of(spec)
        words |= {spec.name, *scheme.split("+"), spec.driver.partition(".")[0]}
        words |= {spec.extra or spec.name, *profile.clients, *profile.loggers}
    return {w.lower() for w in words} | {w.replace("-", "_").lower() for w in words}


def test_compare_names_no_backend() -> None:
    words = backend_words()
    assert {"kafka", "amqp", "sqs", "memory", "aiokafka", "aio_pika", "aiobotocore"} <= words
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, sorted(words))) + r")\b", re.I)
    found = [
        f"{path.relative_to(COMPARE)}:{number}: {line.strip()}"
        for path in sorted(COMPARE.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == [], "anymq.compare names a backend (belongs in its CompareProfile):\n" + (
        "\n".join(found)
    )


def test_every_builtin_backend_declares_a_profile_and_baseline() -> None:
    found = profiles()
    assert {"memory", "kafka", "rabbitmq", "sqs"} <= set(found)
    for kind, profile in found.items():
        assert profile.baseline, f"{kind} has no raw baseline"


@pytest.fixture
def memtest_plugin() -> object:
    plugins.register(memtest, name="memtest")
    yield memtest
    plugins.unregister(memtest)


def test_a_third_party_backend_gets_behaviour_and_performance(
    memtest_plugin: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["--quick", "--count", "500", "--latency-samples", "20", "--rounds", "1"]
    code = main([*args, "--output", str(tmp_path), "memtest://"])
    doc = json.loads((tmp_path / "compare.json").read_text())
    assert code == 0, json.dumps(broker(doc, "memtest"), indent=1)
    memtest_report = broker(doc, "memtest")
    assert memtest_report["status"] == "ok"
    assert memtest_report["backend"] == "memtest"
    assert memtest_report["behaviour"]["status"] == "ok"
    assert memtest_report["behaviour"]["counts"]["pass"] >= 30
    check_semantics(doc, "memtest", all_pass=True)
    check_performance(doc, "memtest")
    assert memtest_report["performance"]["raw"]["client"] == "list handoff"
    assert "memtest" in (tmp_path / "compare.html").read_text()


def test_an_in_process_compare_leaves_the_log_levels_as_it_found_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """compare quiets the client libraries' loggers for its own display only: an
    application (or a test session) running it in-process keeps its logging afterwards.
    Before, every later test that read aiokafka's or botocore's records saw nothing."""
    monkeypatch.chdir(tmp_path)
    quiet = sorted({name for p in profiles().values() for name in p.loggers})
    assert quiet, "no profile names a logger to quiet"
    before = {name: logging.getLogger(name).level for name in quiet}
    args = ["--quick", "--no-behaviour", "--count", "200", "--latency-samples", "5"]
    main([*args, "--rounds", "1", "--output", str(tmp_path), "memory://"])
    assert {name: logging.getLogger(name).level for name in quiet} == before


def test_suite_url_adds_pacing_options_the_url_does_not_set() -> None:
    """compare's contract run on SQS gets a 5 s visibility timeout (a killed member's
    messages come back within a test) unless the user's URL chose one."""
    from anymq.compare.profile import for_scheme

    profile = for_scheme("sqs")
    assert profile is not None
    plain = "sqs://127.0.0.1:4566?endpoint_url=http://127.0.0.1:4566&region=us-east-1"
    assert profile.suite_url(plain) == plain + "&visibility_timeout=5"
    chosen = plain + "&visibility_timeout=40"
    assert profile.suite_url(chosen) == chosen
    assert profile.suite_url("sqs://") == "sqs://?visibility_timeout=5"
    assert profile.min_test_timeout >= 60
