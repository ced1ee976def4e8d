"""Apps the tests run with ``anymq run tests.runtime.apps:...`` in a child process.

The topic and group come from the environment (the child has no other way to learn the
test's unique names); each handled message is reported as a line on stdout.
"""

from __future__ import annotations

import asyncio
import os
import sys

import anymq
from anymq.message import Received

TOPIC = os.environ.get("ANYMQ_TEST_TOPIC", "unset")
GROUP = os.environ.get("ANYMQ_TEST_GROUP", "unset")

stuck = anymq.App()


@stuck.handler(TOPIC, group=GROUP, concurrency=8, serializer=None, start="earliest")
async def finish_all_but_stuck(body: bytes, msg: Received) -> None:
    """Messages whose body starts with 'stuck' never finish; the others do, out of order."""
    if body.startswith(b"stuck"):
        await asyncio.Event().wait()
    await asyncio.sleep(0.05 * (10 - (msg.offset or 0) % 10) / 10)
    sys.stdout.write(f"done {body.decode()}\n")
    sys.stdout.flush()


not_an_app = object()

sleepy = anymq.App()


@sleepy.handler(TOPIC, group=GROUP, concurrency=4, serializer=None)
async def sleep_as_told(body: bytes) -> None:
    """A body ``name:seconds`` sleeps that long; 'start name' and 'done name' on stdout."""
    name, _, seconds = body.decode().partition(":")
    sys.stdout.write(f"start {name}\n")
    sys.stdout.flush()
    await asyncio.sleep(float(seconds))
    sys.stdout.write(f"done {name}\n")
    sys.stdout.flush()
