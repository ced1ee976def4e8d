"""``anymq demo`` tells the truth on every broker: each step waits (with a deadline) for what
it expects, prints what it saw, and a step that did not see it says so and the demo exits 1.

Run as a user runs it: ``anymq demo --url ...`` in a subprocess, on memory:// and on each real
broker (marked, so ``-m memory`` runs only the first).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time

import pytest

from anymq.demo import Step, collect
from tests.core.cli_run import SCRIPT


def _env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {"COLUMNS": "200", "PATH": "/usr/bin:/bin", **({"PYTHONPATH": path} if path else {})}


def run_demo(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        [str(SCRIPT), "demo", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=_env(),
    )
    return done, time.monotonic() - started


def steps(stdout: str) -> dict[str, str]:
    """Each step's title and its outcome line (the line under it)."""
    lines = stdout.splitlines()
    return {
        line[2:]: lines[i + 1].strip() for i, line in enumerate(lines[:-1]) if line.startswith("• ")
    }


def outcome(found: dict[str, str], start: str) -> str:
    matches = [text for title, text in found.items() if title.startswith(start)]
    assert len(matches) == 1, (start, found)
    return matches[0]


def check_demo(url: str | None) -> float:
    done, took = run_demo(*(["--url", url] if url else []))
    assert done.returncode == 0, done.stdout + done.stderr
    found = steps(done.stdout)
    failed = {title: text for title, text in found.items() if not text.startswith("ok:")}
    assert not failed, failed
    share = outcome(found, "Members of one group share")
    assert re.search(r"billing A got (\d+), billing B got (\d+): 12 of 12 distinct", share), share
    a, b = map(int, re.findall(r"billing [AB] got (\d+)", share))
    assert a + b >= 12, share
    assert "shipping got 12 of 12" in outcome(found, "Every group gets every message")
    keys = outcome(found, "Keys pick partitions")
    assert "each of the 4 keys in one partition, in the order sent" in keys, keys
    assert sum(int(n) for n in re.findall(r"p\d+=(\d+)", keys)) >= 12, keys
    nack = outcome(found, "A nacked message comes back")
    [token] = re.findall(r"(flaky-\w+) nacked", nack)
    assert f"{token} came back with delivery_count=2" in nack, nack
    history = [title for title in found if title.startswith(("Event broker", "Message broker"))]
    assert len(history) == 1, found
    if history[0].startswith("Event broker"):
        assert "read 13 of 13" in found[history[0]], found[history[0]]
    else:
        assert "start='earliest' refused" in found[history[0]], found[history[0]]
        assert "a new group got 0 of the 13 old messages in 1s" in found[history[0]]
    assert "UnsupportedFeature" in outcome(found, "Undeclared guarantees fail loudly")
    assert done.stdout.rstrip().endswith("saw what it expected"), done.stdout
    return took


def test_demo_on_memory_is_true_and_quick() -> None:
    took = check_demo(None)
    done, _ = run_demo()
    found = steps(done.stdout)
    assert "read 13 of 13" in outcome(found, "Event broker")
    assert "re-read 13 of 13" in outcome(found, "Replay")
    assert "it got ['live']" in outcome(found, "A consumer without a group")
    assert took < 10, f"the demo took {took:.1f}s on memory://"


@pytest.mark.kafka
def test_demo_on_kafka(kafka_url: str) -> None:
    check_demo(kafka_url)


@pytest.mark.rabbitmq
def test_demo_on_rabbitmq(rabbitmq_url: str) -> None:
    check_demo(rabbitmq_url)


@pytest.mark.sqs
def test_demo_on_sqs(sqs_url: str) -> None:
    check_demo(sqs_url)


class _Partial:
    """A consumer that hands out some of the expected bodies, one twice, then nothing."""

    def __init__(self, bodies: list[bytes]) -> None:
        self.batches = [bodies]

    async def receive(self, max_messages: int, timeout: float) -> list[object]:
        if self.batches:
            return [_Msg(b) for b in self.batches.pop()]
        await asyncio.sleep(timeout)
        return []


class _Msg:
    def __init__(self, body: bytes) -> None:
        self.body = body
        self.value = body

    async def ack(self) -> None:
        return None


def test_a_step_that_misses_messages_says_which_and_fails() -> None:
    expected = [b"order-%d" % i for i in range(4)]
    consumer = _Partial([b"order-0", b"order-2", b"order-2"])
    got = asyncio.run(collect([consumer], expected, deadline=0.3))  # type: ignore[list-item]
    step = Step("Every group gets every message")
    line = step.expect(got.complete, got.summary("shipping got"))
    assert not step.ok
    assert line.startswith("FAILED: shipping got 2 of 4"), line
    assert "missing: order-1, order-3" in line, line
    assert "duplicates: order-2" in line, line
