"""The example backend joins ``anymq compare`` like a built-in: registered at run time, it
gets a behaviour column and a performance column (anymq against raw sqlite3)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from anymq import plugins
from anymq.compare.__main__ import main
from tests.compare.test_compare import broker, check_performance, check_semantics
from tests.example_backend.anymq_sqlite import plugin


@pytest.fixture
def sqlite_plugin() -> Iterator[None]:
    plugins.register(plugin, name="anymq-sqlite")
    yield
    plugins.unregister(plugin)


def test_sqlite_gets_behaviour_and_performance(
    sqlite_plugin: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'compare.db'}"
    args = ["--quick", "--count", "500", "--latency-samples", "20", "--rounds", "1"]
    code = main([*args, "--output", str(tmp_path), url])
    doc = json.loads((tmp_path / "compare.json").read_text())
    report = broker(doc, "sqlite")
    assert code == 0, json.dumps(report, indent=1)
    assert report["status"] == "ok"
    assert report["backend"] == "sqlite"
    assert report["behaviour"]["status"] == "ok"
    check_semantics(doc, "sqlite", all_pass=True)  # undeclared features: "unsupported"
    assert {"unsupported", "pass"} <= {row["cells"]["sqlite"]["result"] for row in doc["semantics"]}
    check_performance(doc, "sqlite")
    performance = report["performance"]
    assert performance["raw"]["client"] == "sqlite3"
    print("sqlite ratios (anymq / raw):", json.dumps(performance["ratios"]))
