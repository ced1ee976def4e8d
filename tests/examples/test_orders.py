"""examples/orders runs unchanged on every URL and gives the same outcome (issue 13).

The example is run as a user would run it: a fresh process with only ``ANYMQ_URL`` set.
Its printed outcome must be identical on every broker, apart from how many duplicates
billing counted (at-least-once: a handover may repeat a few events, never lose or reorder).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "orders" / "orders.py"
EVENTS = 12 * 3 + 1


def run_orders(url: str) -> dict[str, object]:
    env = dict(os.environ, ANYMQ_URL=url)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "src"), str(ROOT / "plugins"), env.get("PYTHONPATH", "")]
    )
    done = subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-4000:]
    outcome: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return outcome


def assert_same_outcome(outcome: dict[str, object]) -> None:
    duplicates = outcome.pop("duplicates")
    assert isinstance(duplicates, int)
    assert duplicates >= 0
    assert outcome == {
        "events": EVENTS,
        "billed": EVENTS - 1,
        "in key order": True,
        "both members billed": True,
        "notified": EVENTS,
        "dead letter": {"order": "order-poison", "order-id header": "order-poison"},
    }


def test_orders_on_memory() -> None:
    assert_same_outcome(run_orders("memory://"))


@pytest.mark.kafka
def test_orders_on_kafka(kafka_url: str) -> None:
    assert_same_outcome(run_orders(kafka_url))


@pytest.mark.rabbitmq
@pytest.mark.parametrize("mode", ["classic", "stream"])
def test_orders_on_rabbitmq(rabbitmq_url: str, mode: str) -> None:
    sep = "&" if "?" in rabbitmq_url else "?"
    url = rabbitmq_url if mode == "classic" else f"{rabbitmq_url}{sep}mode=stream"
    assert_same_outcome(run_orders(url))


@pytest.mark.sqs
@pytest.mark.parametrize("fifo", [False, True])
def test_orders_on_sqs(sqs_url: str, fifo: bool) -> None:
    sep = "&" if "?" in sqs_url else "?"
    assert_same_outcome(run_orders(f"{sqs_url}{sep}fifo=true" if fifo else sqs_url))
