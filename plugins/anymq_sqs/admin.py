"""The SQS/SNS resources behind anymq topics and groups: create, find, wire up, delete.

``mode=sns`` (default): a topic is an SNS topic; a group is an SQS queue subscribed to it
with raw delivery (its name derived from topic + group, see ``naming``); a consumer without
a group gets a temporary queue deleted on close. A dead-letter topic anymq makes is an SNS
topic whose one queue (the redrive target) every group reads; one that exists as an ordinary
topic stays one (its groups read their own queues). ``mode=queue``: a topic is one SQS queue.

A topic is *standard* (SNS topic ``orders``, standard queues) or *FIFO* (``orders.fifo``,
FIFO queues): FIFO when it has several partitions or was made on a ``?fifo=true`` URL. Its
:class:`Kind` (FIFO or not, partition count in the ``anymq:partitions`` tag) is looked up
once per process and topic, so producers and consumers anywhere agree on it.

Every queue carries tags (``anymq:topic``, ``anymq:role``, ``anymq:group``) so
``delete_topic`` can find and delete what was created for a topic, also from other processes.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, replace
from typing import Any

from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from anymq.errors import AnyMQError, BrokerError, ConfigError, TopicNotFound, UnsupportedFeature
from anymq.model import GroupInfo, PartitionLag, Retention, TopicInfo
from anymq_sqs import naming
from anymq_sqs.errors import BACKEND, code_of, is_not_found, translate
from anymq_sqs.options import Settings

TAG_TOPIC = "anymq:topic"
TAG_ROLE = "anymq:role"
TAG_GROUP = "anymq:group"
TAG_DLQ = "anymq:dead-letter-queue"
TAG_PARTITIONS = "anymq:partitions"

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
class Kind:
    """What backs a user's topic: a standard or a FIFO resource, and its partition count."""

    topic: str
    """The user's name (no .fifo)."""
    fifo: bool
    partitions: int = 1
    dead_letter_queue: str | None = None
    """Set on a dead-letter topic: the one queue every group of it reads."""

    @property
    def resource(self) -> str:
        """The SNS topic (mode=queue: SQS queue) name."""
        return naming.resource(self.topic, self.fifo)

    def describe(self) -> str:
        if not self.fifo:
            return f"a standard topic ({self.resource!r}, 1 partition, no key order)"
        return f"a FIFO topic ({self.resource!r}, {self.partitions} partition(s))"


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
    kind: Kind | None = None
    """The topic read (None: a dead-letter queue read as it is)."""


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
        self._kinds: dict[str, Kind] = {}
        """Topic → kind, looked up once: a topic's kind and partitions never change while
        it exists. Dropped when it is deleted here or a request finds it gone."""

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

    async def set_redrive(self, url: str, dlq_arn: str | None, max_deliveries: int) -> None:
        """Server-side safety net: after max_deliveries receives SQS moves the message to
        ``dlq_arn``; None removes the policy (no queue to move it to)."""
        policy = ""
        if dlq_arn is not None:
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
    async def resource_exists(self, name: str) -> bool:
        """Whether the SNS topic (mode=queue: SQS queue) ``name`` exists."""
        if self.queue_mode:
            self._urls.pop(name, None)
            return await self.queue_url(name) is not None
        try:
            await self.sns.get_topic_attributes(TopicArn=self.topic_arn(name))
        except ClientError as exc:
            if is_not_found(exc):
                return False
            raise self.fail(exc, f"looking up topic {naming.user_name(name)}") from exc
        return True

    async def _tags(self, name: str) -> dict[str, str] | None:
        """Tags of the SNS topic (mode=queue: SQS queue) ``name``; None if it does not exist."""
        if self.queue_mode:
            url = await self.queue_url(name)
            return None if url is None else await self.queue_tags(url)
        try:
            response = await self.sns.list_tags_for_resource(ResourceArn=self.topic_arn(name))
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise self.fail(exc, f"reading topic {naming.user_name(name)}") from exc
        return {t["Key"]: t["Value"] for t in response.get("Tags") or []}

    async def find(self, topic: str, *, fresh: bool = False) -> Kind | None:
        """The kind of ``topic`` (None if it does not exist), from the cache unless ``fresh``.

        Looks for both resources at once: a standard ``orders`` and a FIFO ``orders.fifo``
        would both be topic ``orders``, which anymq refuses to guess between.
        """
        if not fresh and (cached := self._kinds.get(topic)) is not None:
            return cached
        if self.queue_mode:  # a stale URL would hide a queue deleted meanwhile
            self._urls.pop(topic, None)
            self._urls.pop(naming.resource(topic, True), None)
        plain, fifo = await asyncio.gather(
            self._tags(topic), self._tags(naming.resource(topic, True))
        )
        if plain is not None and fifo is not None:
            self._kinds.pop(topic, None)
            raise ConfigError(
                f"topic {topic!r} is ambiguous: both a standard {topic!r} and a FIFO "
                f"{naming.resource(topic, True)!r} exist on {self.settings.endpoint}; anymq "
                "maps one topic name to one of them. delete_topic removes both"
            )
        if plain is None and fifo is None:
            self._kinds.pop(topic, None)
            return None
        tags = plain if fifo is None else fifo
        assert tags is not None
        kind = Kind(topic, fifo is not None, _partitions(tags), tags.get(TAG_DLQ))
        self._kinds[topic] = kind
        return kind

    def forget(self, topic: str) -> None:
        """Drops the cached kind of ``topic`` (a request found it gone)."""
        self._kinds.pop(topic, None)

    async def kind(self, topic: str, *, create: bool = False, fresh: bool = False) -> Kind:
        """The kind of an existing ``topic`` this connection may use; created (one
        partition, this URL's kind) when missing and ``create``, else TopicNotFound."""
        found = await self.find(topic, fresh=fresh)
        if found is None:
            if not create:
                raise TopicNotFound(topic, BACKEND)
            await self.create_topic(topic)
            found = await self.find(topic)
            if found is None:
                raise TopicNotFound(topic, BACKEND, "it was deleted right after being created")
        if self.settings.fifo and not found.fifo:
            raise ConfigError(
                f"topic {topic!r} is {found.describe()}, made on a standard sqs:// URL; this "
                "connection (?fifo=true) promises key order on every topic, which a standard "
                "topic cannot keep: connect without fifo=true, or delete and recreate it"
            )
        return found

    async def create_topic(
        self,
        topic: str,
        partitions: int = 1,
        *,
        fifo: bool | None = None,
        dead_letter: bool = False,
    ) -> bool:
        """Create the topic's SNS topic (or queue); False if it existed.

        FIFO when it has several partitions, on a ?fifo=true URL, or when ``fifo`` says so
        (a dead-letter topic takes its topic's kind). An existing FIFO topic is kept where a
        standard one is asked for (as Kafka keeps an existing topic's partition count); an
        existing standard one cannot become FIFO, that is a ConfigError.
        """
        if fifo is None:
            fifo = self.settings.fifo or partitions > 1
        found = await self.find(topic, fresh=True)
        if found is not None:
            if fifo and not found.fifo:
                raise ConfigError(
                    f"topic {topic!r} already exists as {found.describe()}; it cannot become "
                    f"a FIFO topic with {partitions} partition(s) (SNS and SQS cannot change a "
                    "topic's type): delete it first, or use another name"
                )
            return False
        kind = Kind(topic, fifo, partitions)
        name = kind.resource
        role = ROLE_DLQ if dead_letter else ROLE_TOPIC
        if self.queue_mode:
            tags = {TAG_TOPIC: name, TAG_ROLE: role}
            if fifo:
                tags[TAG_PARTITIONS] = str(partitions)
            await self.ensure_queue(name, tags)
            self._kinds[topic] = kind
            return True
        attributes: dict[str, str] = {}
        sns_tags = [{"Key": TAG_ROLE, "Value": role}]
        if dead_letter:  # tagged as it is made: no process ever sees it as an ordinary topic
            queue = naming.queue_name(name, "dlq")
            kind = replace(kind, dead_letter_queue=queue)
            sns_tags.append({"Key": TAG_DLQ, "Value": queue})
        if fifo:
            attributes = {"FifoTopic": "true", "ContentBasedDeduplication": "false"}
            sns_tags.append({"Key": TAG_PARTITIONS, "Value": str(partitions)})
        try:
            await self.sns.create_topic(Name=name, Attributes=attributes, Tags=sns_tags)
        except ClientError as exc:
            raise self.fail(exc, f"creating topic {topic}") from exc
        self._kinds[topic] = kind
        return True

    async def list_topics(self) -> list[str]:
        """User names (no .fifo), each once."""
        if self.queue_mode:
            urls = await self._list_queues("")
            gate = asyncio.Semaphore(10)

            async def ours(url: str) -> str | None:
                async with gate:
                    tags = await self.queue_tags(url)
                if tags.get(TAG_ROLE) in (ROLE_TOPIC, ROLE_DLQ):
                    return url.rstrip("/").rsplit("/", 1)[-1]
                return None

            found = [n for n in await asyncio.gather(*(ours(u) for u in urls)) if n]
            return sorted({naming.user_name(n) for n in found})
        names: set[str] = set()
        kwargs: dict[str, Any] = {}
        while True:
            try:
                response = await self.sns.list_topics(**kwargs)
            except ClientError as exc:
                raise self.fail(exc, "listing topics") from exc
            for t in response.get("Topics") or []:
                names.add(naming.user_name(t["TopicArn"].rsplit(":", 1)[-1]))
            token = response.get("NextToken")
            if not token:
                return sorted(names)
            kwargs["NextToken"] = token

    async def describe_topic(self, topic: str) -> TopicInfo:
        kind = await self.kind(topic, fresh=True)
        details: dict[str, Any] = {"fifo": kind.fifo}
        if self.queue_mode:
            details |= {"mode": "queue", "queue_url": await self.queue_url(kind.resource)}
            return TopicInfo(topic, kind.partitions, Retention(), details)
        try:
            response = await self.sns.get_topic_attributes(TopicArn=self.topic_arn(kind.resource))
        except ClientError as exc:
            raise self.fail(exc, f"describing topic {topic}", topic) from exc
        attrs = response.get("Attributes") or {}
        details |= {
            "mode": "sns",
            "topic_arn": self.topic_arn(kind.resource),
            "subscriptions": int(attrs.get("SubscriptionsConfirmed", 0) or 0),
        }
        return TopicInfo(topic, kind.partitions, Retention(), details)

    async def delete_topic(self, topic: str) -> None:
        """Delete the topic and every queue and subscription anymq made for it (both kinds,
        if both exist: the way out of an ambiguous name)."""
        self._kinds.pop(topic, None)
        doomed = [
            name
            for name, tags in zip(
                (topic, naming.resource(topic, True)),
                await asyncio.gather(self._tags(topic), self._tags(naming.resource(topic, True))),
                strict=True,
            )
            if tags is not None
        ]
        if not doomed:
            raise TopicNotFound(topic, BACKEND)
        for name in doomed:
            await self._delete_resource(name)
        self._kinds.pop(topic, None)

    async def _delete_resource(self, name: str) -> None:
        """Delete one SNS topic (mode=queue: queue) and the queues anymq made for it."""
        if self.queue_mode:
            await self.delete_queue(name)
            return
        tags = await self._tags(name)
        if tags is None:
            return
        arn = self.topic_arn(name)
        doomed: set[str] = set()
        if TAG_DLQ in tags:
            doomed.add(tags[TAG_DLQ])
        for sub in await self._subscriptions(arn):
            if sub.get("Protocol") != "sqs":
                continue
            await self._unsubscribe(sub["SubscriptionArn"])
            queue = str(sub.get("Endpoint", "")).rsplit(":", 1)[-1]
            url = await self.queue_url(queue)
            if url is not None and (await self.queue_tags(url)).get(TAG_TOPIC) == name:
                doomed.add(queue)
        for url in await self._list_queues(naming.queue_prefix(name)):
            queue = url.rstrip("/").rsplit("/", 1)[-1]
            if queue not in doomed and (await self.queue_tags(url)).get(TAG_TOPIC) == name:
                self._urls[queue] = url
                doomed.add(queue)
        for queue in sorted(doomed):
            await self.delete_queue(queue)
        try:
            await self.sns.delete_topic(TopicArn=arn)
        except ClientError as exc:
            raise self.fail(exc, f"deleting topic {naming.user_name(name)}") from exc

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
        """Queue names subscribed to SNS topic ``topic`` with raw delivery (for delays)."""
        names: list[str] = []
        for sub in await self._subscriptions(self.topic_arn(topic)):
            if sub.get("Protocol") == "sqs" and str(sub.get("SubscriptionArn", "")).startswith(
                "arn:"
            ):
                names.append(str(sub["Endpoint"]).rsplit(":", 1)[-1])
        return names

    async def subscribe(self, topic: str, queue: str) -> str:
        """Subscribe a queue to SNS topic ``topic`` with raw delivery; return the
        subscription once it is confirmed."""
        try:
            response = await self.sns.subscribe(
                TopicArn=self.topic_arn(topic),
                Protocol="sqs",
                Endpoint=self.queue_arn(queue),
                Attributes={"RawMessageDelivery": "true"},
                ReturnSubscriptionArn=True,
            )
        except ClientError as exc:
            user = naming.user_name(topic)
            raise self.fail(exc, f"subscribing {queue} to {user}", user) from exc
        arn = str(response.get("SubscriptionArn", ""))
        if not arn.startswith("arn:"):
            raise BrokerError(
                f"SNS did not confirm the subscription of {queue} to {topic} ({arn}); "
                "the queue must be in the same account"
            )
        return arn

    # -- consumers -----------------------------------------------------------------------
    async def source(self, topic: str, group: str | None, *, create: bool) -> Source:
        """The queue a consumer of (topic, group) reads, wired and live.

        The one place a group's SQS objects are declared (its queue, FIFO for a FIFO
        topic, and its subscription): consumer start and group declaration both come here.
        """
        kind = await self.kind(topic, create=create, fresh=True)
        if self.queue_mode:
            return await self._queue_source(kind, group)
        resource = kind.resource
        dlq = kind.dead_letter_queue
        if dlq is not None:  # a dead-letter topic: every group reads the redrive target
            url = await self.queue_url(dlq)
            created = url is None
            if url is None:
                await self.ensure_dead_letter(topic, fifo=kind.fifo)
                url = await self.queue_url(dlq)
                if url is None:
                    raise TopicNotFound(topic, BACKEND, "it was deleted while being set up")
            return Source(url, dlq, self.queue_arn(dlq), created=created, kind=kind)
        if group is None:
            label = "tmp-" + _token()
            name = naming.queue_name(resource, "tmp", label)
            tag = {TAG_TOPIC: resource, TAG_ROLE: ROLE_TEMP}
        else:
            name = naming.queue_name(resource, "group", group)
            tag = {TAG_TOPIC: resource, TAG_ROLE: ROLE_GROUP, TAG_GROUP: group}
        created = await self.queue_url(name) is None
        url = await self.ensure_queue(name, tag, sns_topic=resource)
        subscription = await self.subscribe(resource, name)
        return Source(
            url,
            name,
            self.queue_arn(name),
            subscription,
            temporary=group is None,
            created=created,
            kind=kind,
        )

    async def _queue_source(self, kind: Kind, group: str | None) -> Source:
        topic, resource = kind.topic, kind.resource
        url = await self.queue_url(resource)
        if url is None:
            self.forget(topic)
            raise TopicNotFound(topic, BACKEND)
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
        return Source(url, resource, self.queue_arn(resource), created=claimed, kind=kind)

    async def group_exists(self, topic: str, group: str) -> bool:
        """The group's queue exists (mode=queue: the topic's queue is claimed by it)."""
        try:
            kind = await self.kind(topic, fresh=True)
        except TopicNotFound:
            return False
        if self.queue_mode:
            url = await self.queue_url(kind.resource)
            return url is not None and (await self.queue_tags(url)).get(TAG_GROUP) == group
        name = kind.dead_letter_queue or naming.queue_name(kind.resource, "group", group)
        return await self.queue_url(name) is not None

    async def list_groups(self, topic: str) -> list[str]:
        """The groups whose queues are subscribed to the topic (the ``anymq:group`` tag of
        each queue; mode=queue: the group that claimed the topic's queue, if any)."""
        kind = await self.kind(topic, fresh=True)
        if self.queue_mode:
            url = await self.queue_url(kind.resource)
            if url is None:
                self.forget(topic)
                raise TopicNotFound(topic, BACKEND)
            owner = (await self.queue_tags(url)).get(TAG_GROUP)
            return [owner] if owner else []
        if kind.dead_letter_queue is not None:
            raise UnsupportedFeature(
                "list_groups",
                BACKEND,
                f"{topic!r} is anymq's dead-letter topic: every group reads its one queue "
                f"{kind.dead_letter_queue!r}, so no queue names a group",
            )
        queues = []
        for sub in await self._subscriptions(self.topic_arn(kind.resource)):
            if sub.get("Protocol") == "sqs":
                queues.append(str(sub.get("Endpoint", "")).rsplit(":", 1)[-1])
        gate = asyncio.Semaphore(10)

        async def group_of(queue: str) -> str | None:
            async with gate:
                url = await self.queue_url(queue)
                tags = {} if url is None else await self.queue_tags(url)
            if tags.get(TAG_ROLE) != ROLE_GROUP or tags.get(TAG_TOPIC) != kind.resource:
                return None  # a temporary queue, or one anymq did not make for this topic
            return tags.get(TAG_GROUP)

        found = await asyncio.gather(*(group_of(q) for q in dict.fromkeys(queues)))
        return sorted({group for group in found if group})

    async def release(self, source: Source) -> None:
        """Undo a temporary source: unsubscribe and delete its queue."""
        if not source.temporary:
            return
        if source.subscription:
            await self._unsubscribe(source.subscription)
        await self.delete_queue(source.name)

    async def ensure_dead_letter(self, dlt: str, *, fifo: bool) -> str | None:
        """Make the dead-letter topic ``dlt`` ready; return the ARN of the queue a ``fifo``
        (or standard) group queue may redrive to, or None: no redrive, the consumer counts.

        A missing ``dlt`` is made as anymq's own dead-letter topic: its topic's kind, one
        partition, one queue (the redrive target, also subscribed) that every group reads.
        An existing ordinary topic stays one: its groups have their own queues, and a
        redrive to one queue would bypass them, so dead letters are published to it (the
        consumer's dead_letter) and the delivery limit is counted by the consumer. SQS
        redrives only to a queue of the same type: of the other kind, no redrive either.
        """
        found = await self.find(dlt, fresh=True)
        if found is None:
            await self.create_topic(dlt, fifo=fifo, dead_letter=True)
            kind = await self.find(dlt)
            if kind is None:
                raise TopicNotFound(dlt, BACKEND, "it was deleted while being set up")
        else:
            kind = found
        resource = kind.resource
        same = kind.fifo == fifo
        if self.queue_mode:  # the topic is the queue its one group reads
            url = await self.queue_url(resource)
            if url is None:
                self.forget(dlt)
                raise TopicNotFound(dlt, BACKEND, "it was deleted while being set up")
            return self.queue_arn(resource) if same else None
        name = kind.dead_letter_queue
        if name is None:
            return None
        await self.ensure_queue(name, {TAG_TOPIC: resource, TAG_ROLE: ROLE_DLQ}, sns_topic=resource)
        await self.subscribe(resource, name)  # dead letters are published to the topic
        return self.queue_arn(name) if same else None

    async def describe_group(self, topic: str, group: str) -> GroupInfo:
        """The backlog of the group's queue. A partitioned topic's group has one FIFO queue
        for all partitions, and SQS counts per queue: one figure, partition None."""
        kind = await self.kind(topic, fresh=True)
        if self.queue_mode:
            url = await self.queue_url(kind.resource)
            if url is None:
                raise TopicNotFound(topic, BACKEND)
        else:
            name = kind.dead_letter_queue or naming.queue_name(kind.resource, "group", group)
            url = await self.queue_url(name)
        if url is None:  # the group never subscribed: nothing waits for it
            return GroupInfo(topic, group, (PartitionLag(None, None, None, 0),), None, 0)
        visible, in_flight, delayed = await self.counts(url)
        lag = visible + in_flight + delayed
        return GroupInfo(topic, group, (PartitionLag(None, None, None, lag),), None, in_flight)


def _partitions(tags: dict[str, str]) -> int:
    """The partition count a FIFO resource was created with (1: made without the tag)."""
    try:
        return max(1, int(tags.get(TAG_PARTITIONS, "1")))
    except ValueError:
        return 1


def _token() -> str:
    return uuid.uuid4().hex[:12]
