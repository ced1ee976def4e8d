"""The command between processes on real brokers: ``produce`` | ``consume`` pipelines.

memory:// lives in one process, so these need Kafka, RabbitMQ and SQS: any byte sequence
but the newline survives ``produce`` and ``consume --format value``; ``consume --format
json | produce --format json`` copies key, value and headers; produce sends in batches.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import shlex
import subprocess
import uuid

import pytest

import anymq
from tests.core.cli_run import SCRIPT, env, text
from tests.core.cli_run import anymq as run

BROKERS = [
    pytest.param("kafka", marks=pytest.mark.kafka),
    pytest.param("rabbitmq", marks=pytest.mark.rabbitmq),
    pytest.param("sqs", marks=pytest.mark.sqs),
]


@pytest.fixture(params=BROKERS)
def url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_url"))


def prepare(url: str, *topics: str) -> None:
    """Topics, each with a group 'g' that exists before anything is sent (a message broker
    keeps only what arrives for a declared group)."""

    async def go() -> None:
        async with anymq.connect(url) as broker:
            for topic in topics:
                await broker.create_topic(topic)
                if anymq.Feature.CONSUMER_GROUPS in broker.capabilities:
                    await broker.create_group(topic, "g")

    asyncio.run(go())


def drop(url: str, *topics: str) -> None:
    async def go() -> None:
        async with anymq.connect(url) as broker:
            for topic in topics:
                await broker.delete_topic(topic)

    asyncio.run(go())


def random_lines(count: int, seed: int) -> list[bytes]:
    """Random byte strings without \\n: \\r, NUL, invalid UTF-8 and 0x80-0xff included."""
    rng = random.Random(seed)
    alphabet = [b for b in range(256) if b != 0x0A]
    lines = [bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(count)]
    lines[:4] = [b"\r", b"\x00\xff\x80", b"ends with cr\r", b"\xed\xa0\x80 surrogate"]
    return lines


def consume_args(url: str, topic: str, count: int, fmt: str) -> list[str]:
    return [
        "consume", topic, "--url", url, "--group", "g", "--start", "earliest",
        "--count", str(count), "--timeout", "20", "--format", fmt,
    ]  # fmt: skip


def test_random_bytes_round_trip_through_produce_and_consume_value(url: str) -> None:
    topic = f"cli-bytes-{uuid.uuid4().hex[:8]}"
    prepare(url, topic)
    try:
        lines = random_lines(200, seed=14)
        sent = run("produce", topic, "--url", url, stdin=b"\n".join(lines) + b"\n")
        assert sent.returncode == 0, text(sent.stderr)
        assert b"sent 200 messages" in sent.stderr, text(sent.stderr)
        got = run(*consume_args(url, topic, len(lines), "value"))
        assert got.returncode == 0, text(got.stderr)
        received = got.stdout.split(b"\n")[:-1]
        if "kafka" in url:  # one partition: the order is kept
            assert received == lines
        assert sorted(received) == sorted(lines)
    finally:
        drop(url, topic)


def test_consume_json_piped_into_produce_json_copies_messages(url: str) -> None:
    src, dst = (f"cli-{side}-{uuid.uuid4().hex[:8]}" for side in ("src", "dst"))
    prepare(url, src, dst)
    try:
        lines = b"k1\tone\nk2\t\xff\x00two\nno key\n"
        sent = run(
            "produce", src, "--url", url, "--key-separator", "\t", "--header", "h=\x01x",
            stdin=lines,
        )  # fmt: skip
        assert sent.returncode == 0, text(sent.stderr)
        python = [str(SCRIPT)]
        pipeline = (
            shlex.join([*python, *consume_args(url, src, 3, "json")])
            + " | "
            + shlex.join([*python, "produce", dst, "--url", url, "--format", "json"])
        )
        piped = subprocess.run(
            ["/bin/sh", "-c", pipeline],
            capture_output=True,
            env=env(),
            timeout=120,
        )
        assert piped.returncode == 0, text(piped.stderr)
        assert b"sent 3 messages to " + dst.encode() in piped.stderr, text(piped.stderr)
        got = run(*consume_args(url, dst, 3, "json"))
        assert got.returncode == 0, text(got.stderr)
        records = [json.loads(line) for line in got.stdout.splitlines()]
        seen = [(r["key"], r["value"], r.get("value_encoding"), r["headers"]) for r in records]
        assert (None, "no key", None, {"h": "\x01x"}) in seen  # no tab: no key
        assert ("k1", "one", None, {"h": "\x01x"}) in seen
        two = next(r for r in records if r["key"] == "k2")
        assert two["value_encoding"] == "base64"
    finally:
        drop(url, src, dst)


@pytest.mark.kafka
def test_produce_sends_in_batches_at_thousands_per_second(kafka_url: str) -> None:
    """Before: one awaited send per line, about 1,100 lines/s on Kafka here."""
    topic = f"cli-rate-{uuid.uuid4().hex[:8]}"
    prepare(kafka_url, topic)
    try:
        lines = b"".join(b"line %d\n" % i for i in range(20000))
        sent = run("produce", topic, "--url", kafka_url, stdin=lines)
        assert sent.returncode == 0, text(sent.stderr)
        rate = re.search(rb"sent 20,?000 messages .*\(([\d,]+) msg/s\)", sent.stderr)
        assert rate is not None, text(sent.stderr)
        assert int(rate.group(1).replace(b",", b"")) > 10_000, text(sent.stderr)
    finally:
        drop(kafka_url, topic)
