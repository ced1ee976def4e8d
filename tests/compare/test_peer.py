"""The peer benchmark (python -m benchmarks.peer), short: every side of every workload
received every message exactly once, and a lost or doubled message fails the run. No
timing asserts: CI machines are too noisy for them."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from benchmarks.peer import kafka, rabbitmq
from benchmarks.peer.common import SIDES, PeerCountError, Tally, body, drain

ROOT = Path(__file__).resolve().parents[2]


def peer(url: str, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join([str(ROOT / "src"), str(ROOT / "plugins"), str(ROOT)])
    return subprocess.run(
        [sys.executable, "-m", "benchmarks.peer", url, "--count", "40", "--rounds", "2",
         "--timeout", "120", "--out", str(out), *args],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=path), capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip


def check_every_side(out: Path, names: set[str]) -> None:
    data = json.loads((out / "peer.json").read_text())
    assert {row["workload"] for row in data["rows"]} == names
    for row in data["rows"]:
        for side in SIDES:
            assert len(row["counts"][side]) == 2, (row["workload"], side)  # both rounds ran
            for counts in row["counts"][side]:
                assert counts == {"sent": row["count"], "received": row["count"],
                                  "duplicates": 0}, (row["workload"], side)  # fmt: skip
            assert all(rate > 0 for rate in row["rates"][side]), (row["workload"], side)
    assert (out / "peer.md").read_text().count("\n| ") == len(names) + 1
    for chart in ("peer-raw.svg", "peer-faststream.svg"):
        assert (out / chart).read_text().startswith("<svg")


@pytest.mark.kafka
def test_every_kafka_side_gets_every_message_once(kafka_url: str, tmp_path: Path) -> None:
    done = peer(kafka_url, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    check_every_side(tmp_path, {w.name for w in kafka.workloads()})


@pytest.mark.rabbitmq
def test_every_rabbitmq_side_gets_every_message_once(rabbitmq_url: str, tmp_path: Path) -> None:
    done = peer(rabbitmq_url, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    check_every_side(tmp_path, {w.name for w in rabbitmq.workloads()})


@pytest.mark.memory
def test_a_missing_or_doubled_message_fails_the_count() -> None:
    async def scenario(sent: list[int]) -> None:
        tally = Tally(3)

        async def loop() -> None:
            for seq in sent:
                tally.mark(body(seq, 100))
            await asyncio.Event().wait()

        await drain(loop(), tally, "side", timeout=0.5)

    asyncio.run(scenario([0, 1, 2]))  # exactly once: no error
    with pytest.raises(PeerCountError, match="side: only 2 of 3 messages arrived"):
        asyncio.run(scenario([0, 2]))
    with pytest.raises(PeerCountError, match="1 duplicate"):
        asyncio.run(scenario([0, 1, 1, 2]))


@pytest.mark.memory
def test_an_unknown_workload_is_refused_with_the_known_names() -> None:
    path = os.pathsep.join([str(ROOT / "src"), str(ROOT / "plugins"), str(ROOT)])
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.peer", "--workload", "nope"],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=path), capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "kafka-consume-each-1KiB" in done.stderr
    assert "rabbitmq-publish-batch-1KiB" in done.stderr
