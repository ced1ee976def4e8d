"""The SQS baseline: the same workload through aiobotocore directly, for ``anymq compare``.

One standard queue. Producers send each batch as concurrent SendMessageBatch calls of 10
(SQS's limit); members long-poll ReceiveMessage for up to 10 and remove what they got with
DeleteMessageBatch. Bodies are base64 text, as binary bodies must be on SQS. anymq's SQS
backend goes through SNS for fan-out, so its ratio also shows the price of that hop. The
client comes from the plugin's own driver for the URL (``sqs://host:port`` is that local
endpoint for both sides). Imported only when a run measures SQS.
"""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

from anymq.compare.cleanup import Tracker
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


async def run_round(url: str, plan: Plan, tracker: Tracker) -> RoundResult:
    name = tracker.name("raw")
    created = tracker.add(f"sqs queue {name}", lambda: delete_queue(url, name))
    try:
        async with _client(url) as sqs:
            queue_url: str = (await sqs.create_queue(QueueName=name))["QueueUrl"]
            return await _round(sqs, queue_url, plan)
    finally:
        await tracker.undo(created)


async def _round(sqs: Any, queue_url: str, plan: Plan) -> RoundResult:
    encode = base64.b64encode
    batches = [[encode(b).decode() for b in bodies(share, plan.size)] for share in plan.shares()]

    async def send_ten(texts: list[str]) -> None:
        entries = [{"Id": str(i), "MessageBody": text} for i, text in enumerate(texts)]
        answer = await sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        if answer.get("Failed"):
            raise RuntimeError(f"SendMessageBatch refused {len(answer['Failed'])} message(s)")

    async def produce(texts: list[str]) -> None:
        for i in range(0, len(texts), plan.batch):
            chunk = texts[i : i + plan.batch]
            await asyncio.gather(
                *(send_ten(chunk[j : j + SQS_BATCH]) for j in range(0, len(chunk), SQS_BATCH))
            )

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

    drain = Drain(plan.count)
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
            await sqs.send_message(QueueUrl=queue_url, MessageBody=encode(data).decode())

        await pingpong.run(send)
    return RoundResult(produce_seconds, consume_seconds, pingpong.latencies_ns, drain.duplicates)


BASELINE = Baseline(
    client="aiobotocore",
    distribution="aiobotocore",
    description=(
        "aiobotocore on one SQS queue: SendMessageBatch of 10 (concurrent per batch), "
        "ReceiveMessage up to 10 with long polling, DeleteMessageBatch"
    ),
    run_round=run_round,
)
