"""Sending: SNS Publish/PublishBatch (mode=sns) or SQS SendMessage/SendMessageBatch (mode=queue).

Batches go out 10 entries at a time, also cut by the service's total payload limit. FIFO
topics get the key as MessageGroupId (keyless messages a random one: no order to keep) and a
fresh MessageDeduplicationId per send, so identical bodies are never dropped and a botocore
retry of the same request is. SNS has no per-message delay, so delayed messages are sent
straight to the topic's subscribed queues with DelaySeconds.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

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
from anymq_sqs.context import SqsContext
from anymq_sqs.errors import BACKEND, is_not_found, translate

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

    # -- helpers -------------------------------------------------------------------------
    def _check(self, topic: str) -> None:
        if self.closed:
            raise ClosedError("producer is closed")
        if topic not in self._checked:
            self.context.check(topic)
            self._checked.add(topic)

    def _entry(self, topic: str, index: int, m: Outgoing, *, binary: bool) -> dict[str, Any]:
        body, attrs = codec.encode(m.value, m.key, m.headers, binary=binary)
        size = codec.wire_size(body, attrs)
        if size > self._limit:
            raise MessageTooLarge(size, self._limit, BACKEND)
        entry: dict[str, Any] = {"Id": str(index), "_size": size}
        if attrs:
            entry["MessageAttributes"] = attrs
        if naming.is_fifo(topic):
            entry["MessageGroupId"] = (
                naming.message_group_id(m.key) if m.key is not None else uuid.uuid4().hex
            )
            entry["MessageDeduplicationId"] = uuid.uuid4().hex
        if m.delay:
            if naming.is_fifo(topic):
                raise UnsupportedFeature(
                    "delayed_delivery", BACKEND, "FIFO queues have no per-message delay"
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
        return translate(
            exc, endpoint=self.context.settings.endpoint, topic=topic, doing=doing, publishing=True
        )

    async def _to_topic(self, topic: str, call: Callable[[], Awaitable[Any]]) -> Any:
        """``call()`` (an SNS publish); once more after auto-creating a missing topic."""
        doing = f"publishing to {topic}"
        try:
            return await call()
        except (ClientError, BotoCoreError) as exc:
            if not (self.context.settings.auto_create and is_not_found(exc)):
                raise self._fail(exc, topic, doing) from exc
        await self.context.topology.create_topic(topic)
        try:
            return await call()
        except (ClientError, BotoCoreError) as again:
            raise self._fail(again, topic, doing) from again

    # -- sending -------------------------------------------------------------------------
    async def send(self, topic: str, message: Outgoing) -> Receipt:
        self._check(topic)
        if message.delay or self.context.queue_mode:
            return (await self.send_batch(topic, [message]))[0]
        entry = self._entry(topic, 0, message, binary=False)
        kwargs: dict[str, Any] = {
            "TopicArn": self.context.topology.topic_arn(topic),
            "Message": entry["_body"],
        }
        for name in ("MessageAttributes", "MessageGroupId", "MessageDeduplicationId"):
            if name in entry:
                kwargs[name] = entry[name]
        sns = self.context.topology.sns
        response = await self._to_topic(topic, lambda: sns.publish(**kwargs))
        return Receipt(topic, None, None, response.get("MessageId"))

    async def send_batch(self, topic: str, messages: Sequence[Outgoing]) -> list[Receipt]:
        self._check(topic)
        queue_mode = self.context.queue_mode
        entries = [
            self._entry(topic, i, m, binary=queue_mode or bool(m.delay))
            for i, m in enumerate(messages)
        ]
        ids: list[str | None] = [None] * len(entries)
        if queue_mode:
            url = await self._queue_url(topic)
            for chunk in self._chunks(entries):
                await self._send_queue(topic, url, chunk, ids)
            return [Receipt(topic, None, None, i) for i in ids]
        now = [e for e in entries if "DelaySeconds" not in e]
        later = [e for e in entries if "DelaySeconds" in e]
        for chunk in self._chunks(now):
            await self._publish(topic, chunk, ids)
        if later:
            await self._send_delayed(topic, later, ids)
        return [Receipt(topic, None, None, i) for i in ids]

    async def _queue_url(self, topic: str) -> str:
        topology = self.context.topology
        url = await topology.queue_url(topic)
        if url is None:
            if not self.context.settings.auto_create:
                raise TopicNotFound(topic, BACKEND)
            await topology.create_topic(topic)
            url = await topology.queue_url(topic)
            assert url is not None
        return url

    async def _publish(
        self, topic: str, chunk: list[dict[str, Any]], ids: list[str | None]
    ) -> None:
        request = [
            {k: v for k, v in e.items() if not k.startswith("_")} | {"Message": e["_body"]}
            for e in chunk
        ]
        sns = self.context.topology.sns
        arn = self.context.topology.topic_arn(topic)
        response = await self._to_topic(
            topic, lambda: sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=request)
        )
        self._settle(topic, response, ids)

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
        self, topic: str, entries: list[dict[str, Any]], ids: list[str | None]
    ) -> None:
        """SNS cannot delay: send to every subscribed queue with DelaySeconds instead."""
        topology = self.context.topology
        try:
            queues = await topology.subscribed_queues(topic)
        except TopicNotFound:
            if not self.context.settings.auto_create:
                raise
            await topology.create_topic(topic)
            queues = []
        for queue in queues:
            url = await topology.queue_url(queue)
            if url is None:
                continue
            for chunk in self._chunks(entries):
                await self._send_queue(topic, url, chunk, ids)

    async def close(self) -> None:
        self.closed = True
