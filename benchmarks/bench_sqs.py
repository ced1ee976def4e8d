"""anymq's SQS backend against raw aiobotocore on the same endpoint, in the same run.

    python benchmarks/bench_sqs.py [--url sqs://127.0.0.1:4566] [--rounds 3] [--mode sns]

Workloads (anymq and raw alternate round by round; the median of the rounds counts):

- produce: anymq ``send_batch`` (split into requests of 10) vs raw SNS ``PublishBatch`` of
  10 entries carrying the same body and attributes (``--mode queue``: SQS
  ``SendMessageBatch``).
- consume: a pre-filled group queue; anymq ``async for msg in consumer: await msg.ack()``
  (acks go out as DeleteMessageBatch of 10) vs raw ``ReceiveMessage`` (10, long poll) +
  ``DeleteMessageBatch`` of what came back.
- latency: one message at a time, send awaited, a long-polling member receives it;
  end-to-end milliseconds (p50 / p99).

moto applies no quotas and runs on the same cores, so absolute rates mean little: the ratio
anymq/raw is the figure. Target >= 0.9. Results go to reports/bench_sqs.json.

moto 5.2 scans a queue's whole message list for every message it adds or receives, so
rates fall as queues fill: rounds use fresh topics and modest counts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import anymq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Result, ack_each_rate, ping_latencies, ratio_table

ROOT = Path(__file__).resolve().parent.parent
BATCH = 10
HEADERS = {"content-type": "text/plain", "trace-id": "0af7651916cd43dd8448eb211c80319c"}


class Raw:
    """Plain aiobotocore clients made by the plugin's driver for the URL (endpoint, region,
    credentials, timeouts), as anymq compare's baseline makes them."""

    def __init__(self, url: str) -> None:
        self.driver = anymq.connect(url).driver
        self.sqs: Any = None
        self.sns: Any = None
        self._contexts: list[Any] = []

    async def __aenter__(self) -> Raw:
        for name in ("sqs", "sns"):
            context = self.driver.client(name)  # type: ignore[attr-defined]
            setattr(self, name, await context.__aenter__())
            self._contexts.append(context)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for context in reversed(self._contexts):
            await context.__aexit__(None, None, None)

    async def queue_for(self, topic_arn: str | None, name: str) -> str:
        url = (await self.sqs.create_queue(QueueName=name))["QueueUrl"]
        if topic_arn is not None:
            arn = (await self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"]))[
                "Attributes"
            ]["QueueArn"]
            await self.sns.subscribe(
                TopicArn=topic_arn,
                Protocol="sqs",
                Endpoint=arn,
                Attributes={"RawMessageDelivery": "true"},
            )
        return str(url)


def attributes(key: str) -> dict[str, Any]:
    out = {"anymq.key": {"DataType": "String", "StringValue": key}}
    for name, value in HEADERS.items():
        out[name] = {"DataType": "String", "StringValue": value}
    return out


# -- produce ----------------------------------------------------------------------------
async def produce_anymq(url: str, topic: str, count: int, value: bytes) -> float:
    async with anymq.connect(url) as broker, broker.producer() as producer:
        batch = [anymq.Message(value, key=b"k%d" % i, headers=HEADERS) for i in range(BATCH)]
        await producer.send_batch(topic, batch)  # warm-up
        started = time.perf_counter()
        for _ in range(count // BATCH):
            await producer.send_batch(topic, batch)
        return (count // BATCH) * BATCH / (time.perf_counter() - started)


async def produce_raw(raw: Raw, target: str, count: int, value: bytes, mode: str) -> float:
    text = value.decode()
    if mode == "sns":
        entries = [
            {"Id": str(i), "Message": text, "MessageAttributes": attributes(f"k{i}")}
            for i in range(BATCH)
        ]

        async def send() -> None:
            await raw.sns.publish_batch(TopicArn=target, PublishBatchRequestEntries=entries)

    else:
        entries = [
            {"Id": str(i), "MessageBody": text, "MessageAttributes": attributes(f"k{i}")}
            for i in range(BATCH)
        ]

        async def send() -> None:
            await raw.sqs.send_message_batch(QueueUrl=target, Entries=entries)

    await send()  # warm-up
    started = time.perf_counter()
    for _ in range(count // BATCH):
        await send()
    return (count // BATCH) * BATCH / (time.perf_counter() - started)


# -- consume ----------------------------------------------------------------------------
async def consume_anymq(url: str, topic: str, group: str, count: int) -> float:
    async with anymq.connect(url) as broker, broker.consumer(topic, group) as consumer:
        return await ack_each_rate(consumer, count)


async def consume_raw(raw: Raw, queue_url: str, count: int) -> float:
    started = time.perf_counter()
    seen = 0
    while seen < count:
        response = await raw.sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=BATCH,
            WaitTimeSeconds=20,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
        )
        messages = response.get("Messages") or []
        if messages:
            await raw.sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )
        seen += len(messages)
    return seen / (time.perf_counter() - started)


# -- latency ----------------------------------------------------------------------------
async def latency_anymq(url: str, topic: str, count: int) -> tuple[list[float], float]:
    """Latencies and the rate from the first send to the last receive (set-up excluded)."""
    async with (
        anymq.connect(url) as broker,
        broker.consumer(topic, f"lat-{uuid.uuid4().hex[:6]}") as consumer,
        broker.producer() as producer,
    ):
        return await ping_latencies(consumer, producer, topic, count, gap=0.005, timeout=120)


async def latency_raw(
    raw: Raw, target: str, queue_url: str, count: int, mode: str
) -> tuple[list[float], float]:
    """Latencies and the rate from the first send to the last receive."""
    out: list[float] = []

    async def consume() -> None:
        while len(out) < count:
            response = await raw.sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=BATCH, WaitTimeSeconds=20
            )
            now = time.perf_counter()
            messages = response.get("Messages") or []
            for m in messages:
                out.append((now - float(m["Body"])) * 1000)
            if messages:
                await raw.sqs.delete_message_batch(
                    QueueUrl=queue_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(messages)
                    ],
                )

    task = asyncio.get_running_loop().create_task(consume())
    started = time.perf_counter()
    for _ in range(count):
        body = repr(time.perf_counter())
        if mode == "sns":
            await raw.sns.publish(TopicArn=target, Message=body)
        else:
            await raw.sqs.send_message(QueueUrl=target, MessageBody=body)
        await asyncio.sleep(0.005)
    await asyncio.wait_for(task, 120)
    return out, count / (time.perf_counter() - started)


# -- driver -----------------------------------------------------------------------------
async def run(url: str, rounds: int, count: int, latency_count: int) -> list[dict[str, Any]]:
    mode = "queue" if "mode=queue" in url else "sns"
    value = b"x" * 1024
    pairs: list[tuple[str, Result, Result]] = []
    async with anymq.connect(url) as broker, Raw(url) as raw:
        topology = broker.driver.topology  # type: ignore[attr-defined]

        async def new_topic() -> tuple[str, str]:
            name = f"bench-{uuid.uuid4().hex[:10]}"
            await broker.create_topic(name)
            if mode == "queue":
                return name, str(await topology.queue_url(name))
            return name, str(topology.topic_arn(name))

        # produce: a fresh topic with one subscribed group per side and round (moto's
        # sends slow down with the depth of the queues they land in: O(depth) per message)
        ours, theirs = Result("anymq"), Result("aiobotocore")
        for r in range(rounds):
            order = ["anymq", "raw"] if r % 2 == 0 else ["raw", "anymq"]
            for side in order:
                topic, target = await new_topic()
                try:
                    if mode == "sns":
                        async with broker.consumer(topic, "sink"):
                            pass
                    if side == "anymq":
                        ours.rates.append(await produce_anymq(url, topic, count, value))
                    else:
                        theirs.rates.append(await produce_raw(raw, target, count, value, mode))
                finally:
                    await broker.delete_topic(topic)
        pairs.append((f"produce 1 KiB ({mode}, batches of {BATCH})", ours, theirs))
        print(f"produce: anymq {ours.rates} raw {theirs.rates}", flush=True)

        # consume: each round fills an anymq group queue and a raw queue with the same data
        ours, theirs = Result("anymq"), Result("aiobotocore")
        for r in range(rounds):
            topic, target = await new_topic()
            try:
                group = "bench"
                if mode == "sns":
                    async with broker.consumer(topic, group):
                        pass
                    raw_queue = await raw.queue_for(target, f"{topic}-raw")
                else:
                    raw_queue = await raw.queue_for(None, f"{topic}-raw")
                async with broker.producer() as producer:
                    batch = [
                        anymq.Message(value, key=b"k%d" % i, headers=HEADERS) for i in range(BATCH)
                    ]
                    for _ in range(count // BATCH):
                        await producer.send_batch(topic, batch)
                if mode == "queue":
                    await produce_raw(raw, raw_queue, count - BATCH, value, "queue")
                order = ["anymq", "raw"] if r % 2 == 0 else ["raw", "anymq"]
                for side in order:
                    if side == "anymq":
                        ours.rates.append(await consume_anymq(url, topic, group, count))
                    else:
                        theirs.rates.append(await consume_raw(raw, raw_queue, count))
            finally:
                await broker.delete_topic(topic)
                await raw.sqs.delete_queue(QueueUrl=raw_queue)
        pairs.append((f"consume 1 KiB (receive 10 + ack each, {mode})", ours, theirs))
        print(f"consume: anymq {ours.rates} raw {theirs.rates}", flush=True)

        # latency: a fresh topic per side and round, so neither side sees the other's messages
        ours, theirs = Result("anymq"), Result("aiobotocore")
        for r in range(rounds):
            order = ["anymq", "raw"] if r % 2 == 0 else ["raw", "anymq"]
            for side in order:
                topic, target = await new_topic()
                raw_queue = None
                try:
                    if side == "anymq":
                        latencies, rate = await latency_anymq(url, topic, latency_count)
                        ours.latencies_ms.extend(latencies)
                        ours.rates.append(rate)
                    else:
                        raw_queue = await raw.queue_for(
                            target if mode == "sns" else None, f"{topic}-lat"
                        )
                        raw_target = target if mode == "sns" else raw_queue
                        latencies, rate = await latency_raw(
                            raw, raw_target, raw_queue, latency_count, mode
                        )
                        theirs.latencies_ms.extend(latencies)
                        theirs.rates.append(rate)
                finally:
                    await broker.delete_topic(topic)
                    if raw_queue is not None:
                        await raw.sqs.delete_queue(QueueUrl=raw_queue)
        pairs.append(("end-to-end latency (send awaited, 1 at a time)", ours, theirs))

    rows = ratio_table(f"anymq vs aiobotocore on {url}", pairs)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--url", default="sqs://127.0.0.1:4566")
    parser.add_argument("--mode", choices=["sns", "queue"], default=None)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--count", type=int, default=200, help="messages per round")
    parser.add_argument("--latency-count", type=int, default=100)
    args = parser.parse_args()
    url = args.url
    if args.mode:
        url += ("&" if "?" in url else "?") + f"mode={args.mode}"
    rows = asyncio.run(run(url, args.rounds, args.count, args.latency_count))
    out = ROOT / "reports" / "bench_sqs.json"
    out.parent.mkdir(exist_ok=True)
    existing: dict[str, Any] = {}
    if out.exists():
        try:
            existing = json.loads(out.read_text())
        except ValueError:
            existing = {}
    runs = existing.get("runs", {}) if isinstance(existing.get("runs"), dict) else {}
    runs["queue" if "mode=queue" in url else "sns"] = {
        "url": url,
        "rounds": args.rounds,
        "count": args.count,
        "results": rows,
    }
    out.write_text(json.dumps({"runs": runs}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
