"""On Kafka the committed offset never passes an unfinished message.

``anymq run`` runs an app in a child process with 8 handlers in flight; two messages never
finish while the later ones do (acks out of order), commits run every 100 ms, then the
child is SIGKILLed (no close, no final commit). The committed offset stays at the first
unfinished message, and the next run gets exactly the two unfinished messages: the acks
beyond the frontier are kept in the commit metadata (anymq_kafka.tracker), so finished work
is not redone either.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

import anymq
from tests.runtime.helpers import send, unique, until

pytestmark = [pytest.mark.kafka, pytest.mark.anymq]

ROOT = Path(__file__).resolve().parents[2]


async def test_a_killed_run_redelivers_exactly_the_unfinished_messages(kafka_url: str) -> None:
    url = f"{kafka_url}{'&' if '?' in kafka_url else '?'}commit_interval_ms=100"
    topic, group = unique("kafka"), unique("g")
    bodies = [b"stuck%d" % n if n in (2, 5) else b"m%d" % n for n in range(10)]
    async with anymq.connect(url) as broker:
        await broker.create_topic(topic)
        try:
            await send(broker, topic, [(None, body) for body in bodies])
            env = dict(
                os.environ,
                PYTHONPATH=os.pathsep.join(p for p in sys.path if p),
                ANYMQ_TEST_TOPIC=topic,
                ANYMQ_TEST_GROUP=group,
            )
            child = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "anymq",
                "run",
                "tests.runtime.apps:stuck",
                "--url",
                url,
                cwd=ROOT,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
            )
            assert child.stdout is not None
            done: list[str] = []
            try:
                while len(done) < 8:
                    line = await asyncio.wait_for(child.stdout.readline(), 60)
                    assert line, f"the child ended early (code {await child.wait()})"
                    done.append(line.decode().split()[1])
                await asyncio.sleep(1.0)  # several background commits
                info = await broker.describe_group(topic, group)
            finally:
                child.send_signal(signal.SIGKILL)
                await child.wait()
            assert sorted(done) == sorted(b.decode() for b in bodies if b.startswith(b"m"))
            [partition] = info.partitions
            assert partition.committed == 2, "the commit passed an unfinished message"

            again: list[bytes] = []
            app = anymq.App(url)

            @app.handler(topic, group=group, concurrency=8, serializer=None)
            async def record(body: bytes) -> None:
                again.append(body)

            async with app:
                await until(lambda: len(again) >= 2, "the redelivery", timeout=60)
                await asyncio.sleep(1.0)  # nothing else comes
            assert sorted(again) == [b"stuck2", b"stuck5"]
        finally:
            await broker.delete_topic(topic)
