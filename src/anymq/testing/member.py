"""A group member that acks its first messages and then holds the rest unacked, for the
contract test that SIGKILLs a member mid-stream.

Run as a process of its own (``python -m anymq.testing.member``) so the kill is a real one:
no close, no commit, no goodbye to the broker. The URL comes in the environment variable
``ANYMQ_MEMBER_URL`` (never on the command line, where ``ps`` would show a password), the
parent's run-time plugins in ``ANYMQ_MEMBER_PLUGINS``; the topic, group and number of
messages to ack are the arguments. Each message is reported on
stdout as one JSON line, *before* it is acked, so the test knows every message the member
may have settled; a line ``{"ready": true}`` says the member has joined.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Callable

import anymq
from anymq.client import Consumer

URL_VARIABLE = "ANYMQ_MEMBER_URL"
PLUGINS_VARIABLE = "ANYMQ_MEMBER_PLUGINS"
"""JSON list of the parent's run-time plugins (see ``anymq.plugins.register_entries``)."""

Report = Callable[[dict[str, object]], None]


async def ack_then_hold(consumer: Consumer, ack_first: int, report: Report) -> None:
    """Ack the first ``ack_first`` messages, hold every later one unacked; forever."""
    acked = 0
    while True:
        for msg in await consumer.receive(max_messages=10, timeout=0.5):
            ack = acked < ack_first
            report(
                {
                    "key": (msg.key or b"").decode(),
                    "body": msg.body.decode(),
                    "partition": msg.partition,
                    "count": msg.delivery_count,
                    "acked": ack,
                    "at": time.monotonic(),
                }
            )
            if ack:
                acked += 1
                await msg.ack()


def _print(event: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


async def run(url: str, topic: str, group: str, ack_first: int) -> None:
    async with anymq.connect(url) as broker:
        consumer = broker.consumer(topic, group, prefetch=10)
        await consumer.start()
        _print({"ready": True})
        await ack_then_hold(consumer, ack_first, _print)


def main(argv: list[str]) -> None:
    from anymq import plugins

    topic, group, ack_first = argv
    plugins.register_entries(json.loads(os.environ.get(PLUGINS_VARIABLE, "[]")))
    asyncio.run(run(os.environ[URL_VARIABLE], topic, group, int(ack_first)))


if __name__ == "__main__":
    main(sys.argv[1:])
