"""Sending: SNS Publish/PublishBatch (mode=sns) or SQS SendMessage/SendMessageBatch (mode=queue).

Batches go out 10 entries at a time, also cut by the service's total payload limit. The
topic's kind (standard or FIFO, its partition count) is looked up once per topic. Every
message gets a partition (``anymq.partitioners``: murmur2 of the key as Kafka's Java client,
round robin when asked, or the one given): 0 on a one-partition topic. On a partitioned
(FIFO) topic the partition is the MessageGroupId, so a partition is consumed in order by
one member at a time; on a one-partition FIFO topic the key is (keyless messages a random
one: no order to keep). Every FIFO send gets a fresh MessageDeduplicationId, so identical
bodies are never dropped and a botocore retry of the same request is. SNS has no
per-message delay, so delayed messages are sent straight to the topic's subscribed queues
with DelaySeconds.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from anymq import partitioners
from anymq.backend import Outgoing, ProducerDriver, ProducerOptions
from anymq.errors import (
    ClosedError,
    ConfigError,
    MessageTooLarge,
    PublishError,
    TopicNotFound,
    UnsupportedFeature,
)
from anymq.message import Receipt
from anymq_sqs import codec, naming
from anymq_sqs.admin import Kind
from anymq_sqs.context import SqsContext
from anymq_sqs.errors import BACKEND, translate

MAX_DELAY = 900
BATCH = 10


class SQSProducer(ProducerDriver):
    """One producer; shares the broker's clients."""

    def __init__(self, context: SqsContext, options: ProducerOptions) -> None:
        self.context = context
        self.options = options
        self.closed = False
        self._limit = context.settings.max_message_size
        self._checked: set[str] = set()
        self._pick = partitioners.make(options.partitioner)

    # -- helpers -------------------------------------------------------------------------
    def _check(self, topic: str) -> None:
        if self.closed:
            raise ClosedError("producer is closed")
        if topic not in self._checked:
            self.context.check(topic)
            self._checked.add(topic)

    async def _kind(self, topic: str) -> Kind:
        """The topic's kind (cached by the topology); created if missing and auto-created."""
        return await self.context.topology.kind(topic, create=self.context.settings.auto_create)

    def _partition(self, kind: Kind, m: Outgoing) -> int:
        partitions = kind.partitions
        if m.partition is not None:
            if m.partition >= partitions:
                raise ConfigError(
                    f"partition {m.partition} does not exist: topic {kind.topic!r} has "
                    f"{partitions} partition(s)"
                )
            return m.partition
        return self._pick(m.key, partitions) if partitions > 1 else 0

    def _entry(self, kind: Kind, index: int, m: Outgoing, *, binary: bool) -> dict[str, Any]:
        body, attrs = codec.encode(m.value, m.key, m.headers, binary=binary)
        size = codec.wire_size(body, attrs)
        if size > self._limit:
            raise MessageTooLarge(size, self._limit, BACKEND)
        partition = self._partition(kind, m)
        entry: dict[str, Any] = {"Id": str(index), "_size": size, "_partition": partition}
        if attrs:
            entry["MessageAttributes"] = attrs
        if kind.fifo:
            if kind.partitions > 1:
                group = naming.partition_group(partition)
            elif m.key is not None:
                group = naming.message_group_id(m.key)
            else:
                group = uuid.uuid4().hex
            entry["MessageGroupId"] = group
            entry["MessageDeduplicationId"] = uuid.uuid4().hex
        if m.delay:
            if kind.fifo:
                raise UnsupportedFeature(
                    "delayed_delivery",
                    BACKEND,
                    f"topic {kind.topic!r} is a FIFO topic (partitioned, or made with "
                    "?fifo=true): FIFO queues have no per-message delay",
                )
            if m.delay > MAX_DELAY:
                raise ConfigError(f"SQS delays at most {MAX_DELAY} s, got delay={m.delay}")
            entry["DelaySeconds"] = math.ceil(m.delay)
        entry["_body"] = body
        return entry

    def _chunks(self, entries: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        """At most 10 entries and at most the service limit in total per request."""
        chunks: list[list[dict[str, Any]]] = []
        current: list[dict[str, Any]] = []
        total = 0
        for entry in entries:
            size = entry["_size"]
            if current and (len(current) == BATCH or total + size > self._limit):
                chunks.append(current)
                current, total = [], 0
            current.append(entry)
            total += size
        if current:
            chunks.append(current)
        return chunks

    def _fail(self, exc: BaseException, topic: str, doing: str) -> Exception:
        error = translate(
            exc, endpoint=self.context.settings.endpoint, topic=topic, doing=doing, publishing=True
        )
        if isinstance(error, TopicNotFound):  # deleted elsewhere: look it up again next time
            self.context.topology.forget(topic)
        return error

    # -- sending -------------------------------------------------------------------------
    async def send(self, topic: str, message: Outgoing) -> Receipt:
        self._check(topic)
        if message.delay or self.context.queue_mode:
            return (await self.send_batch(topic, [message]))[0]
        try:
            return await self._send(topic, message)
        except TopicNotFound:
            if not self.context.settings.auto_create:
                raise
        return await self._send(topic, message)  # deleted elsewhere: created again

    async def send_batch(self, topic: str, messages: Sequence[Outgoing]) -> list[Receipt]:
        self._check(topic)
        ids: list[str | None] = [None] * len(messages)
        try:
            return await self._send_batch(topic, messages, ids)
        except TopicNotFound:
            if not self.context.settings.auto_create or any(ids):
                raise
        return await self._send_batch(topic, messages, ids)  # deleted elsewhere: made again

    async def _send(self, topic: str, message: Outgoing) -> Receipt:
        kind = await self._kind(topic)
        entry = self._entry(kind, 0, message, binary=False)
        topology = self.context.topology
        kwargs: dict[str, Any] = {
            "TopicArn": topology.topic_arn(kind.resource),
            "Message": entry["_body"],
        }
        for name in ("MessageAttributes", "MessageGroupId", "MessageDeduplicationId"):
            if name in entry:
                kwargs[name] = entry[name]
        try:
            response = await topology.sns.publish(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, topic, f"publishing to {topic}") from exc
        return Receipt(topic, entry["_partition"], None, response.get("MessageId"))

    async def _send_batch(
        self, topic: str, messages: Sequence[Outgoing], ids: list[str | None]
    ) -> list[Receipt]:
        """Every entry is built (and checked) before the first request."""
        kind = await self._kind(topic)
        queue_mode = self.context.queue_mode
        entries = [
            self._entry(kind, i, m, binary=queue_mode or bool(m.delay))
            for i, m in enumerate(messages)
        ]
        if queue_mode:
            url = await self._queue_url(kind)
            for chunk in self._chunks(entries):
                await self._send_queue(topic, url, chunk, ids)
        else:
            now = [e for e in entries if "DelaySeconds" not in e]
            later = [e for e in entries if "DelaySeconds" in e]
            for chunk in self._chunks(now):
                await self._publish(kind, chunk, ids)
            if later:
                await self._send_delayed(kind, later, ids)
        return [Receipt(topic, e["_partition"], None, i) for e, i in zip(entries, ids, strict=True)]

    async def _queue_url(self, kind: Kind) -> str:
        url = await self.context.topology.queue_url(kind.resource)
        if url is None:
            self.context.topology.forget(kind.topic)
            raise TopicNotFound(kind.topic, BACKEND)
        return url

    async def _publish(
        self, kind: Kind, chunk: list[dict[str, Any]], ids: list[str | None]
    ) -> None:
        request = [
            {k: v for k, v in e.items() if not k.startswith("_")} | {"Message": e["_body"]}
            for e in chunk
        ]
        topology = self.context.topology
        try:
            response = await topology.sns.publish_batch(
                TopicArn=topology.topic_arn(kind.resource), PublishBatchRequestEntries=request
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, kind.topic, f"publishing to {kind.topic}") from exc
        self._settle(kind.topic, response, ids)

    async def _send_queue(
        self, topic: str, url: str, chunk: list[dict[str, Any]], ids: list[str | None]
    ) -> None:
        request = [
            {k: v for k, v in e.items() if not k.startswith("_")} | {"MessageBody": e["_body"]}
            for e in chunk
        ]
        try:
            response = await self.context.topology.sqs.send_message_batch(
                QueueUrl=url, Entries=request
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, topic, f"sending to {topic}") from exc
        self._settle(topic, response, ids)

    def _settle(self, topic: str, response: dict[str, Any], ids: list[str | None]) -> None:
        for ok in response.get("Successful") or []:
            ids[int(ok["Id"])] = ok.get("MessageId")
        failed = response.get("Failed") or []
        if failed:
            sent = sum(1 for i in ids if i is not None)
            detail = "; ".join(
                f"#{f['Id']}: {f.get('Code')} {f.get('Message', '')}" for f in failed
            )
            raise PublishError(
                f"{len(failed)} message(s) to {topic} were refused ({detail}); {sent} of the "
                "batch were sent"
            )

    async def _send_delayed(
        self, kind: Kind, entries: list[dict[str, Any]], ids: list[str | None]
    ) -> None:
        """SNS cannot delay: send to every subscribed queue with DelaySeconds instead."""
        topology = self.context.topology
        try:
            queues = await topology.subscribed_queues(kind.resource)
        except TopicNotFound:
            topology.forget(kind.topic)
            raise
        for queue in queues:
            url = await topology.queue_url(queue)
            if url is None:
                continue
            for chunk in self._chunks(entries):
                await self._send_queue(kind.topic, url, chunk, ids)

    async def close(self) -> None:
        self.closed = True
