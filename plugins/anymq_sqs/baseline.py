"""The SQS baseline: the same workload through aiobotocore directly, for ``anymq compare``.

One standard queue. Producers send each batch as concurrent SendMessageBatch calls of 10
(SQS's limit); members long-poll ReceiveMessage for up to 10 and remove what they got with
DeleteMessageBatch. Bodies are base64 text, as binary bodies must be on SQS. anymq's SQS
backend goes through SNS for fan-out, so its ratio also shows the price of that hop. The
client comes from the plugin's own driver for the URL (``sqs://host:port`` is that local
endpoint for both sides). A plan with ``params`` route=sns sends through an SNS topic
the queue subscribes to instead (the ``*-sns-*`` benchmark workloads). Imported only when
a run measures SQS.
"""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

from anymq.compare.cleanup import Tracker
from anymq.compare.perf.shapes import Shape
from anymq.compare.perf.workload import (
    Drain,
    PingPong,
    Plan,
    RoundResult,
    Workers,
    bodies,
    timed,
)
from anymq.compare.profile import Baseline, driver_for
from anymq_sqs.driver import SQSBroker

SQS_BATCH = 10


def _client(url: str) -> Any:
    """An SQS client made by the plugin for ``url``: same endpoint, region and credentials."""
    driver = driver_for(url)
    assert isinstance(driver, SQSBroker), f"{url} is not served by the sqs backend"
    return driver.client("sqs")


async def delete_queue(url: str, name: str) -> None:
    """Delete a queue by name; a queue that was never created counts as removed."""
    async with _client(url) as sqs:
        try:
            queue_url = (await sqs.get_queue_url(QueueName=name))["QueueUrl"]
        except sqs.exceptions.QueueDoesNotExist:
            return
        await sqs.delete_queue(QueueUrl=queue_url)


def _sns(url: str) -> Any:
    driver = driver_for(url)
    assert isinstance(driver, SQSBroker), f"{url} is not served by the sqs backend"
    return driver.client("sns")


async def delete_topic(url: str, arn: str) -> None:
    async with _sns(url) as sns:
        await sns.delete_topic(TopicArn=arn)


async def run_round(url: str, plan: Plan, tracker: Tracker) -> RoundResult:
    name = tracker.name("raw")
    created = tracker.add(f"sqs queue {name}", lambda: delete_queue(url, name))
    try:
        async with _client(url) as sqs:
            queue_url: str = (await sqs.create_queue(QueueName=name))["QueueUrl"]
            if plan.param("route", "queue") != "sns":
                return await _round(sqs, queue_url, plan, _Queue(sqs, queue_url))
            async with _sns(url) as sns:
                arn = (await sns.create_topic(Name=name))["TopicArn"]
                topic = tracker.add(f"sns topic {name}", lambda: delete_topic(url, arn))
                try:
                    queue_arn = (
                        await sqs.get_queue_attributes(
                            QueueUrl=queue_url, AttributeNames=["QueueArn"]
                        )
                    )["Attributes"]["QueueArn"]
                    await sns.subscribe(
                        TopicArn=arn,
                        Protocol="sqs",
                        Endpoint=queue_arn,
                        Attributes={"RawMessageDelivery": "true"},
                    )
                    return await _round(sqs, queue_url, plan, _Topic(sns, arn))
                finally:
                    await tracker.undo(topic)
    finally:
        await tracker.undo(created)


class _Queue:
    """Sends straight to the queue: SendMessageBatch of 10 / SendMessage."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self.sqs, self.queue_url = sqs, queue_url

    async def ten(self, texts: list[str]) -> None:
        entries = [{"Id": str(i), "MessageBody": text} for i, text in enumerate(texts)]
        answer = await self.sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
        if answer.get("Failed"):
            raise RuntimeError(f"SendMessageBatch refused {len(answer['Failed'])} message(s)")

    async def one(self, text: str) -> None:
        await self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=text)


class _Topic:
    """Sends through an SNS topic the queue subscribes to (raw delivery), as anymq's
    default SQS mode does: PublishBatch of 10 / Publish."""

    def __init__(self, sns: Any, arn: str) -> None:
        self.sns, self.arn = sns, arn

    async def ten(self, texts: list[str]) -> None:
        entries = [{"Id": str(i), "Message": text} for i, text in enumerate(texts)]
        answer = await self.sns.publish_batch(TopicArn=self.arn, PublishBatchRequestEntries=entries)
        if answer.get("Failed"):
            raise RuntimeError(f"PublishBatch refused {len(answer['Failed'])} message(s)")

    async def one(self, text: str) -> None:
        await self.sns.publish(TopicArn=self.arn, Message=text)


async def _round(sqs: Any, queue_url: str, plan: Plan, route: _Queue | _Topic) -> RoundResult:
    encode = base64.b64encode
    produce_seconds = consume_seconds = 0.0
    latencies: list[int] = []

    async def produce(texts: list[str]) -> None:
        if plan.send == "single":
            for text in texts:
                await route.one(text)
            return
        for i in range(0, len(texts), plan.batch):
            chunk = texts[i : i + plan.batch]
            await asyncio.gather(
                *(route.ten(chunk[j : j + SQS_BATCH]) for j in range(0, len(chunk), SQS_BATCH))
            )

    if plan.runs("produce"):
        batches = [
            [encode(b).decode() for b in bodies(share, plan.size)] for share in plan.shares()
        ]
        produce_seconds = await timed(
            asyncio.gather(*(produce(texts) for texts in batches)), plan.phase_timeout, "producing"
        )
    receive = {
        "QueueUrl": queue_url,
        "MaxNumberOfMessages": min(SQS_BATCH, plan.prefetch),
        "WaitTimeSeconds": 1,
    }

    async def settle(messages: list[dict[str, Any]]) -> None:
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
        ]
        await sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)

    drain = Drain(plan.drain_count)
    if plan.runs("consume"):
        # every consume path is ReceiveMessage + DeleteMessageBatch (SQS's bulk ack)
        async with Workers(grace=0) as workers:

            async def member() -> None:
                while not (workers.stopped or drain.done):
                    messages = (await sqs.receive_message(**receive)).get("Messages", [])
                    for message in messages:
                        drain.mark(base64.b64decode(message["Body"]))
                    if messages:
                        await settle(messages)

            for _ in range(plan.consumers):
                workers.start(member(), drain)
            consume_seconds = await drain.timed(plan.phase_timeout)

    if plan.runs("latency"):
        pingpong = PingPong(plan)
        async with Workers(grace=0) as workers:

            async def listen() -> None:
                while not workers.stopped:
                    messages = (await sqs.receive_message(**receive)).get("Messages", [])
                    now = time.perf_counter_ns()
                    for message in messages:
                        pingpong.received(base64.b64decode(message["Body"]), now)
                    if messages:
                        await settle(messages)

            for _ in range(plan.consumers):
                workers.start(listen(), pingpong)

            async def send(data: bytes) -> None:
                await route.one(encode(data).decode())

            latencies = await pingpong.run(send)
    return RoundResult(produce_seconds, consume_seconds, latencies, drain.duplicates)


BASELINE = Baseline(
    client="aiobotocore",
    distribution="aiobotocore",
    description=(
        "aiobotocore on one SQS queue: SendMessageBatch of 10 (concurrent per batch), "
        "ReceiveMessage up to 10 with long polling, DeleteMessageBatch"
    ),
    run_round=run_round,
    differs=(
        "anymq's default sqs mode publishes through an SNS topic the group's queue "
        "subscribes to (one more hop), the raw side sends straight to one SQS queue"
    ),
    workloads=(
        Shape(
            "produce-sns-batch-1KiB",
            "the raw side publishes through an SNS topic (PublishBatch of 10) its queue "
            "subscribes to, as anymq's default mode does",
            ("produce",),
            ("produce",),
            params=(("route", "sns"),),
        ),
        Shape(
            "latency-sns-1KiB",
            "end-to-end latency with the raw side publishing through SNS (Publish)",
            ("p50", "p99"),
            ("latency",),
            params=(("route", "sns"),),
        ),
    ),
)
