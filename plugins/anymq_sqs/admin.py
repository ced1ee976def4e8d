"""The SQS/SNS resources behind anymq topics and groups: create, find, wire up, delete.

``mode=sns`` (default): a topic is an SNS topic; a group is an SQS queue subscribed to it
with raw delivery (its name derived from topic + group, see ``naming``); a consumer without
a group gets a temporary queue deleted on close. A dead-letter topic is an SNS topic whose
one queue (the redrive target) every group reads. ``mode=queue``: a topic is one SQS queue.

Every queue carries tags (``anymq:topic``, ``anymq:role``, ``anymq:group``) so
``delete_topic`` can find and delete what was created for a topic, also from other processes.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from anymq.errors import AnyMQError, BrokerError, TopicNotFound, UnsupportedFeature
from anymq.model import GroupInfo, PartitionLag, Retention, TopicInfo
from anymq_sqs import naming
from anymq_sqs.errors import BACKEND, code_of, is_not_found, translate
from anymq_sqs.options import Settings

TAG_TOPIC = "anymq:topic"
TAG_ROLE = "anymq:role"
TAG_GROUP = "anymq:group"
TAG_DLQ = "anymq:dead-letter-queue"

ROLE_GROUP = "group"
ROLE_TEMP = "temporary"
ROLE_DLQ = "dead-letter"
ROLE_TOPIC = "topic"  # mode=queue: the queue is the topic

_COUNTS = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


@dataclass(frozen=True, slots=True)
class Source:
    """Where a consumer reads: the queue, and how it was wired (to undo on close)."""

    url: str
    name: str
    arn: str
    subscription: str | None = None
    temporary: bool = False
    created: bool = False
    """The group's queue was made (or, mode=queue, claimed) by this call: a new group."""


class Topology:
    """Resource operations on one account and region, shared by producers and consumers."""

    def __init__(
        self, settings: Settings, sqs: Any, sns: Any, account: str, partition: str
    ) -> None:
        self.settings = settings
        self.sqs = sqs
        self.sns = sns
        self.account = account
        self.partition = partition
        self.region = settings.region
        self.queue_mode = settings.mode == "queue"
        self._urls: dict[str, str] = {}

    # -- names ---------------------------------------------------------------------------
    def topic_arn(self, topic: str) -> str:
        return f"arn:{self.partition}:sns:{self.region}:{self.account}:{topic}"

    def queue_arn(self, name: str) -> str:
        return f"arn:{self.partition}:sqs:{self.region}:{self.account}:{name}"

    def fail(self, exc: BaseException, doing: str, topic: str | None = None) -> AnyMQError:
        return translate(exc, endpoint=self.settings.endpoint, topic=topic, doing=doing)

    # -- queues --------------------------------------------------------------------------
    async def queue_url(self, name: str) -> str | None:
        """The URL of a queue, or None if it does not exist."""
        url = self._urls.get(name)
        if url is not None:
            return url
        try:
            response = await self.sqs.get_queue_url(QueueName=name)
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise self.fail(exc, f"looking up queue {name}") from exc
        url = str(response["QueueUrl"])
        self._urls[name] = url
        return url

    async def ensure_queue(
        self, name: str, tags: dict[str, str], *, sns_topic: str | None = None
    ) -> str:
        """Create the queue if missing (idempotent across processes); return its URL."""
        url = await self.queue_url(name)
        if url is not None:
            return url
        attributes: dict[str, str] = {}
        if naming.is_fifo(name):
            attributes["FifoQueue"] = "true"
            attributes["ContentBasedDeduplication"] = "false"
        if sns_topic is not None:
            attributes["Policy"] = self._policy(name, sns_topic)
        try:
            response = await self.sqs.create_queue(QueueName=name, Attributes=attributes, tags=tags)
        except ClientError as exc:
            if code_of(exc) in ("QueueAlreadyExists", "QueueNameExists"):
                found = await self.queue_url(name)
                if found is not None:
                    return found
            raise self.fail(exc, f"creating queue {name}") from exc
        url = str(response["QueueUrl"])
        self._urls[name] = url
        return url

    def _policy(self, queue: str, topic: str) -> str:
        """Lets the topic's SNS deliver to the queue (AWS needs it; moto ignores it)."""
        return json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "anymq-sns-delivery",
                        "Effect": "Allow",
                        "Principal": {"Service": "sns.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": self.queue_arn(queue),
                        "Condition": {"ArnEquals": {"aws:SourceArn": self.topic_arn(topic)}},
                    }
                ],
            },
            separators=(",", ":"),
        )

    async def delete_queue(self, name: str) -> None:
        url = await self.queue_url(name)
        self._urls.pop(name, None)
        if url is None:
            return
        try:
            await self.sqs.delete_queue(QueueUrl=url)
        except ClientError as exc:
            if not is_not_found(exc):
                raise self.fail(exc, f"deleting queue {name}") from exc

    async def queue_tags(self, url: str) -> dict[str, str]:
        try:
            response = await self.sqs.list_queue_tags(QueueUrl=url)
        except ClientError as exc:
            if is_not_found(exc):
                return {}
            raise self.fail(exc, "reading queue tags") from exc
        return dict(response.get("Tags") or {})

    async def _list_queues(self, prefix: str) -> list[str]:
        urls: list[str] = []
        kwargs: dict[str, Any] = {"MaxResults": 1000}
        if prefix:
            kwargs["QueueNamePrefix"] = prefix
        while True:
            try:
                response = await self.sqs.list_queues(**kwargs)
            except ClientError as exc:
                raise self.fail(exc, "listing queues") from exc
            urls.extend(response.get("QueueUrls") or [])
            token = response.get("NextToken")
            if not token:
                return urls
            kwargs["NextToken"] = token

    async def set_redrive(self, url: str, dlq_arn: str, max_deliveries: int) -> None:
        """Server-side safety net: after max_deliveries receives SQS moves the message."""
        policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_deliveries})
        try:
            await self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": policy})
        except ClientError as exc:
            raise self.fail(exc, "setting the redrive policy") from exc

    async def counts(self, url: str) -> tuple[int, int, int]:
        """(visible, in flight, delayed) messages of a queue."""
        try:
            response = await self.sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=list(_COUNTS)
            )
        except ClientError as exc:
            raise self.fail(exc, "reading queue counts") from exc
        attrs = response.get("Attributes") or {}
        visible, in_flight, delayed = (int(attrs.get(name, 0)) for name in _COUNTS)
        return visible, in_flight, delayed

    # -- topics --------------------------------------------------------------------------
    async def topic_exists(self, topic: str) -> bool:
        if self.queue_mode:
            return await self.queue_url(topic) is not None
        try:
            await self.sns.get_topic_attributes(TopicArn=self.topic_arn(topic))
        except ClientError as exc:
            if is_not_found(exc):
                return False
            raise self.fail(exc, f"looking up topic {topic}") from exc
        return True

    async def topic_tags(self, topic: str) -> dict[str, str]:
        """Tags of an SNS topic; TopicNotFound if it does not exist."""
        try:
            response = await self.sns.list_tags_for_resource(ResourceArn=self.topic_arn(topic))
        except ClientError as exc:
            raise self.fail(exc, f"reading topic {topic}", topic) from exc
        return {t["Key"]: t["Value"] for t in response.get("Tags") or []}

    async def create_topic(self, topic: str, *, dead_letter: bool = False) -> bool:
        """Create the topic's SNS topic (or queue); False if it existed."""
        if self.queue_mode:
            if await self.queue_url(topic) is not None:
                return False
            role = ROLE_DLQ if dead_letter else ROLE_TOPIC
            await self.ensure_queue(topic, {TAG_TOPIC: topic, TAG_ROLE: role})
            return True
        if await self.topic_exists(topic):
            return False
        attributes: dict[str, str] = {}
        if naming.is_fifo(topic):
            attributes = {"FifoTopic": "true", "ContentBasedDeduplication": "false"}
        try:
            await self.sns.create_topic(
                Name=topic,
                Attributes=attributes,
                Tags=[{"Key": TAG_ROLE, "Value": ROLE_TOPIC}],
            )
        except ClientError as exc:
            raise self.fail(exc, f"creating topic {topic}") from exc
        return True

    async def list_topics(self) -> list[str]:
        if self.queue_mode:
            urls = await self._list_queues("")
            gate = asyncio.Semaphore(10)

            async def ours(url: str) -> str | None:
                async with gate:
                    tags = await self.queue_tags(url)
                if tags.get(TAG_ROLE) in (ROLE_TOPIC, ROLE_DLQ):
                    return url.rstrip("/").rsplit("/", 1)[-1]
                return None

            return [n for n in await asyncio.gather(*(ours(u) for u in urls)) if n]
        names: list[str] = []
        kwargs: dict[str, Any] = {}
        while True:
            try:
                response = await self.sns.list_topics(**kwargs)
            except ClientError as exc:
                raise self.fail(exc, "listing topics") from exc
            names.extend(t["TopicArn"].rsplit(":", 1)[-1] for t in response.get("Topics") or [])
            token = response.get("NextToken")
            if not token:
                return names
            kwargs["NextToken"] = token

    async def describe_topic(self, topic: str) -> TopicInfo:
        if self.queue_mode:
            url = await self.queue_url(topic)
            if url is None:
                raise TopicNotFound(topic, BACKEND)
            details = {"mode": "queue", "queue_url": url, "fifo": naming.is_fifo(topic)}
            return TopicInfo(topic, 1, Retention(), details)
        try:
            response = await self.sns.get_topic_attributes(TopicArn=self.topic_arn(topic))
        except ClientError as exc:
            raise self.fail(exc, f"describing topic {topic}", topic) from exc
        attrs = response.get("Attributes") or {}
        return TopicInfo(
            topic,
            1,
            Retention(),
            {
                "mode": "sns",
                "topic_arn": self.topic_arn(topic),
                "fifo": naming.is_fifo(topic),
                "subscriptions": int(attrs.get("SubscriptionsConfirmed", 0) or 0),
            },
        )

    async def delete_topic(self, topic: str) -> None:
        """Delete the topic and every queue and subscription anymq made for it."""
        if self.queue_mode:
            if await self.queue_url(topic) is None:
                raise TopicNotFound(topic, BACKEND)
            await self.delete_queue(topic)
            return
        tags = await self.topic_tags(topic)  # TopicNotFound if missing
        arn = self.topic_arn(topic)
        doomed: set[str] = set()
        if TAG_DLQ in tags:
            doomed.add(tags[TAG_DLQ])
        for sub in await self._subscriptions(arn):
            if sub.get("Protocol") != "sqs":
                continue
            await self._unsubscribe(sub["SubscriptionArn"])
            queue = str(sub.get("Endpoint", "")).rsplit(":", 1)[-1]
            url = await self.queue_url(queue)
            if url is not None and (await self.queue_tags(url)).get(TAG_TOPIC) == topic:
                doomed.add(queue)
        for url in await self._list_queues(naming.queue_prefix(topic)):
            queue = url.rstrip("/").rsplit("/", 1)[-1]
            if queue not in doomed and (await self.queue_tags(url)).get(TAG_TOPIC) == topic:
                self._urls[queue] = url
                doomed.add(queue)
        for queue in sorted(doomed):
            await self.delete_queue(queue)
        try:
            await self.sns.delete_topic(TopicArn=arn)
        except ClientError as exc:
            raise self.fail(exc, f"deleting topic {topic}", topic) from exc

    async def _subscriptions(self, arn: str) -> list[dict[str, Any]]:
        subs: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TopicArn": arn}
        while True:
            try:
                response = await self.sns.list_subscriptions_by_topic(**kwargs)
            except ClientError as exc:
                raise self.fail(exc, "listing subscriptions", arn.rsplit(":", 1)[-1]) from exc
            subs.extend(response.get("Subscriptions") or [])
            token = response.get("NextToken")
            if not token:
                return subs
            kwargs["NextToken"] = token

    async def _unsubscribe(self, subscription: str) -> None:
        if not subscription.startswith("arn:"):
            return  # "PendingConfirmation"
        try:
            await self.sns.unsubscribe(SubscriptionArn=subscription)
        except ClientError as exc:
            if not is_not_found(exc):
                raise self.fail(exc, "unsubscribing") from exc

    async def subscribed_queues(self, topic: str) -> list[str]:
        """Queue names subscribed to a topic with raw delivery (for delayed sends)."""
        names: list[str] = []
        for sub in await self._subscriptions(self.topic_arn(topic)):
            if sub.get("Protocol") == "sqs" and str(sub.get("SubscriptionArn", "")).startswith(
                "arn:"
            ):
                names.append(str(sub["Endpoint"]).rsplit(":", 1)[-1])
        return names

    async def subscribe(self, topic: str, queue: str) -> str:
        """Subscribe a queue with raw delivery; return the subscription once it is confirmed."""
        try:
            response = await self.sns.subscribe(
                TopicArn=self.topic_arn(topic),
                Protocol="sqs",
                Endpoint=self.queue_arn(queue),
                Attributes={"RawMessageDelivery": "true"},
                ReturnSubscriptionArn=True,
            )
        except ClientError as exc:
            raise self.fail(exc, f"subscribing {queue} to {topic}", topic) from exc
        arn = str(response.get("SubscriptionArn", ""))
        if not arn.startswith("arn:"):
            raise BrokerError(
                f"SNS did not confirm the subscription of {queue} to {topic} ({arn}); "
                "the queue must be in the same account"
            )
        return arn

    # -- consumers -----------------------------------------------------------------------
    async def source(self, topic: str, group: str | None, *, create: bool) -> Source:
        """The queue a consumer of (topic, group) reads, wired and live."""
        if self.queue_mode:
            return await self._queue_source(topic, group, create=create)
        try:
            tags = await self.topic_tags(topic)
        except TopicNotFound:
            if not create:
                raise
            await self.create_topic(topic)
            tags = {}
        dlq = tags.get(TAG_DLQ)
        if dlq is not None:  # a dead-letter topic: every group reads the redrive target
            url = await self.queue_url(dlq)
            created = url is None
            if url is None:
                url, _ = await self.ensure_dead_letter(topic)
            return Source(url, dlq, self.queue_arn(dlq), created=created)
        if group is None:
            label = "tmp-" + _token()
            name = naming.queue_name(topic, "tmp", label)
            tag = {TAG_TOPIC: topic, TAG_ROLE: ROLE_TEMP}
        else:
            name = naming.queue_name(topic, "group", group)
            tag = {TAG_TOPIC: topic, TAG_ROLE: ROLE_GROUP, TAG_GROUP: group}
        created = await self.queue_url(name) is None
        url = await self.ensure_queue(name, tag, sns_topic=topic)
        subscription = await self.subscribe(topic, name)
        return Source(
            url, name, self.queue_arn(name), subscription, temporary=group is None, created=created
        )

    async def _queue_source(self, topic: str, group: str | None, *, create: bool) -> Source:
        url = await self.queue_url(topic)
        if url is None:
            if not create:
                raise TopicNotFound(topic, BACKEND)
            await self.create_topic(topic)
            url = await self.queue_url(topic)
            assert url is not None
        tags = await self.queue_tags(url)
        owner = tags.get(TAG_GROUP)
        if group is not None and owner is None:
            try:
                await self.sqs.tag_queue(QueueUrl=url, Tags={TAG_GROUP: group})
            except ClientError as exc:
                raise self.fail(exc, f"claiming queue {topic} for group {group}") from exc
        elif group is not None and owner != group:
            raise UnsupportedFeature(
                "fan_out",
                BACKEND,
                f"mode=queue: topic {topic!r} is one queue, read by group {owner!r}; a second "
                f"group {group!r} would steal its messages (use mode=sns for fan-out)",
            )
        claimed = group is not None and owner is None
        return Source(url, topic, self.queue_arn(topic), created=claimed)

    async def group_exists(self, topic: str, group: str) -> bool:
        """The group's queue exists (mode=queue: the topic's queue is claimed by it)."""
        if self.queue_mode:
            url = await self.queue_url(topic)
            return url is not None and (await self.queue_tags(url)).get(TAG_GROUP) == group
        try:
            tags = await self.topic_tags(topic)
        except TopicNotFound:
            return False
        name = tags.get(TAG_DLQ) or naming.queue_name(topic, "group", group)
        return await self.queue_url(name) is not None

    async def release(self, source: Source) -> None:
        """Undo a temporary source: unsubscribe and delete its queue."""
        if not source.temporary:
            return
        if source.subscription:
            await self._unsubscribe(source.subscription)
        await self.delete_queue(source.name)

    async def ensure_dead_letter(self, dlt: str) -> tuple[str, str]:
        """The dead-letter topic and its queue; returns (queue url, queue arn)."""
        if self.queue_mode:
            await self.create_topic(dlt, dead_letter=True)
            url = await self.queue_url(dlt)
            assert url is not None
            return url, self.queue_arn(dlt)
        name = naming.queue_name(dlt, "dlq")
        await self.create_topic(dlt)
        arn = self.topic_arn(dlt)
        try:
            await self.sns.tag_resource(
                ResourceArn=arn,
                Tags=[{"Key": TAG_ROLE, "Value": ROLE_DLQ}, {"Key": TAG_DLQ, "Value": name}],
            )
        except ClientError as exc:
            raise self.fail(exc, f"marking {dlt} as a dead-letter topic", dlt) from exc
        url = await self.ensure_queue(name, {TAG_TOPIC: dlt, TAG_ROLE: ROLE_DLQ}, sns_topic=dlt)
        await self.subscribe(dlt, name)  # messages sent to the topic land there too
        return url, self.queue_arn(name)

    async def describe_group(self, topic: str, group: str) -> GroupInfo:
        if self.queue_mode:
            url = await self.queue_url(topic)
            if url is None:
                raise TopicNotFound(topic, BACKEND)
        else:
            tags = await self.topic_tags(topic)
            name = tags.get(TAG_DLQ) or naming.queue_name(topic, "group", group)
            url = await self.queue_url(name)
        if url is None:  # the group never subscribed: nothing waits for it
            return GroupInfo(topic, group, (PartitionLag(None, None, None, 0),), None, 0)
        visible, in_flight, delayed = await self.counts(url)
        lag = visible + in_flight + delayed
        return GroupInfo(topic, group, (PartitionLag(None, None, None, lag),), None, in_flight)


def _token() -> str:
    return uuid.uuid4().hex[:12]
