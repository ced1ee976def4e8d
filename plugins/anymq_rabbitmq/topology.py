"""Exchanges, queues and bindings behind topics and groups, and their registry entries.

Each helper does one AMQP step on its own short-lived channel and maps RabbitMQ's channel
errors: 404 means the topic (exchange) is missing, 406 means an existing object was
declared with other settings. A queue that exists but is still starting after a server
restart (404 "down or inaccessible") is waited for within ``publish_timeout``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import aiormq.exceptions as amqp_errors

from anymq.errors import ConfigError, TopicNotFound
from anymq.model import Retention
from anymq_rabbitmq.connection import Amqp, queue_down
from anymq_rabbitmq.naming import Names
from anymq_rabbitmq.registry import Doc

ANYMQ_ARG = "x-anymq"


@dataclass
class TopicMeta:
    """A topic's registry entry."""

    name: str
    exchange_type: str = "topic"
    mode: str = "classic"
    retention_ms: int | None = None
    retention_bytes: int | None = None
    retention_messages: int | None = None
    partitions: int = 1
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    known: bool = True
    """False when the exchange exists but anymq has no record of it (created elsewhere)."""

    @classmethod
    def from_doc(cls, doc: Doc, name: str) -> TopicMeta | None:
        entry = doc["topics"].get(name)
        if entry is None:
            return None
        retention = entry.get("retention") or {}
        return cls(
            name=name,
            exchange_type=entry.get("type", "topic"),
            mode=entry.get("mode", "classic"),
            retention_ms=retention.get("ms"),
            retention_bytes=retention.get("bytes"),
            retention_messages=retention.get("messages"),
            partitions=int(entry.get("partitions") or 1),
            groups=dict(entry.get("groups") or {}),
        )

    def save(self, doc: Doc) -> None:
        doc["topics"][self.name] = {
            "type": self.exchange_type,
            "mode": self.mode,
            "retention": {
                "ms": self.retention_ms,
                "bytes": self.retention_bytes,
                "messages": self.retention_messages,
            },
            "groups": self.groups,
            **({"partitions": self.partitions} if self.partitions > 1 else {}),
        }

    @property
    def retention(self) -> Retention:
        from datetime import timedelta

        return Retention(
            time=timedelta(milliseconds=self.retention_ms) if self.retention_ms else None,
            bytes=self.retention_bytes,
            messages=self.retention_messages,
        )

    @property
    def partitioned(self) -> bool:
        return self.partitions > 1

    def partition_exchanges(self) -> list[str]:
        """Where messages of each partition are published (the topic's exchange if one)."""
        if not self.partitioned:
            return [self.name]
        return [Names.partition_exchange(self.name, p) for p in range(self.partitions)]

    def streams(self) -> list[str]:
        """A stream-mode topic's streams: one, or one per partition."""
        if not self.partitioned:
            return [Names.stream(self.name)]
        return [Names.stream(self.name, p) for p in range(self.partitions)]

    def default_binding(self) -> str:
        """The binding that gives a group every message sent with the default routing key."""
        if self.exchange_type == "topic":
            return "#"
        if self.exchange_type == "direct":
            return self.name
        return ""


def binding_arguments(exchange_type: str, binding: str) -> tuple[str, dict[str, Any] | None]:
    """Routing key and arguments of a binding; headers bindings read ``k=v,k2=v2``."""
    if exchange_type != "headers":
        return binding, None
    match = "all"
    text = binding
    if text.startswith(("any:", "all:")):
        match, text = text[:3], text[4:]
    args: dict[str, Any] = {"x-match": match}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, eq, value = part.partition("=")
        if not eq or not name:
            raise ConfigError(
                f"a headers binding is 'name=value,name2=value2' (optionally prefixed 'any:'),"
                f" got {binding!r}"
            )
        args[name] = value
    return "", args


async def exchange_exists(amqp: Amqp, name: str) -> bool:
    async with amqp.admin() as channel:
        try:
            await channel.exchange_declare(name, passive=True)
        except amqp_errors.ChannelNotFoundEntity:
            return False
    return True


async def require_exchange(amqp: Amqp, name: str, hint: str | None = None) -> None:
    if not await exchange_exists(amqp, name):
        raise TopicNotFound(name, "rabbitmq", hint)


async def declare_exchange(
    amqp: Amqp, name: str, exchange_type: str, mode: str, retention: dict[str, int | None]
) -> None:
    """A durable exchange marked ``x-anymq``; the retention is repeated in its arguments
    for operators (the management UI shows them; AMQP cannot read them back, so anymq
    itself reads the registry)."""
    arguments: dict[str, Any] = {ANYMQ_ARG: mode}
    arguments.update({f"x-anymq-retention-{k}": v for k, v in retention.items() if v})
    async with amqp.admin() as channel:
        try:
            await channel.exchange_declare(
                name, exchange_type=exchange_type, durable=True, arguments=arguments
            )
        except amqp_errors.ChannelPreconditionFailed as exc:
            raise ConfigError(
                f"exchange {name!r} exists with another type than {exchange_type!r}: {exc}"
            ) from exc


async def bind_exchange(
    amqp: Amqp, destination: str, source: str, key: str, arguments: dict[str, Any] | None
) -> None:
    async with amqp.admin() as channel:
        await channel.exchange_bind(destination, source, routing_key=key, arguments=arguments)


async def queue_state(amqp: Amqp, name: str) -> str:
    """``"ok"``, ``"down"`` (exists, still starting after a restart) or ``"missing"``; one try."""
    async with amqp.admin() as channel:
        try:
            await channel.queue_declare(name, passive=True)
        except amqp_errors.ChannelNotFoundEntity as exc:
            return "down" if queue_down(exc) else "missing"
    return "ok"


async def queue_counts(amqp: Amqp, name: str) -> tuple[int, int] | None:
    """(ready messages, consumers) of a queue, or None if it does not exist."""

    async def attempt() -> tuple[int, int] | None:
        async with amqp.admin() as channel:
            try:
                ok = await channel.queue_declare(name, passive=True)
            except amqp_errors.ChannelNotFoundEntity as exc:
                if queue_down(exc):
                    raise
                return None
        return int(ok.message_count or 0), int(ok.consumer_count or 0)

    return await amqp.while_down(attempt, f"check the queue {name!r}")


async def declare_queue(amqp: Amqp, name: str, arguments: dict[str, Any], what: str) -> None:
    async def attempt() -> None:
        async with amqp.admin() as channel:
            try:
                await channel.queue_declare(name, durable=True, arguments=arguments)
            except amqp_errors.ChannelPreconditionFailed as exc:
                raise ConfigError(
                    f"{what} queue {name!r} already exists with other settings ({exc.args[0]}); "
                    "use the settings it was created with (max_deliveries, retention, "
                    "queue_type) or delete the topic"
                ) from exc

    await amqp.while_down(attempt, f"declare the {what} queue {name!r}")


async def bind(
    amqp: Amqp, queue: str, exchange: str, key: str, arguments: dict[str, Any] | None
) -> None:
    async def attempt() -> None:
        async with amqp.admin() as channel:
            try:
                await channel.queue_bind(queue, exchange, routing_key=key, arguments=arguments)
            except amqp_errors.ChannelNotFoundEntity as exc:
                if queue_down(exc):
                    raise
                raise TopicNotFound(
                    exchange, "rabbitmq", "it was deleted while subscribing"
                ) from exc

    await amqp.while_down(attempt, f"bind the queue {queue!r}")


async def delete_queue(amqp: Amqp, name: str) -> None:
    async with amqp.admin() as channel:
        with contextlib.suppress(amqp_errors.ChannelNotFoundEntity):
            await channel.queue_delete(name, if_unused=False, if_empty=False)


async def delete_exchange(amqp: Amqp, name: str) -> None:
    async with amqp.admin() as channel:
        with contextlib.suppress(amqp_errors.ChannelNotFoundEntity):
            await channel.exchange_delete(name, if_unused=False)


def stream_arguments(meta: TopicMeta, settings: Any) -> dict[str, Any]:
    """A topic stream: retention by age and size; segments small enough for size retention.

    RabbitMQ applies stream retention per segment when a segment fills up, so with a size
    limit the segment size is a quarter of it (at least 4 KiB) to trim close to the limit.
    """
    segment = int(settings.stream_segment_bytes)
    args: dict[str, Any] = {"x-queue-type": "stream"}
    if meta.retention_ms is not None:
        args["x-max-age"] = f"{max(1, -(-int(meta.retention_ms) // 1000))}s"
    if meta.retention_bytes is not None:
        args["x-max-length-bytes"] = int(meta.retention_bytes)
        segment = min(segment, max(4096, int(meta.retention_bytes) // 4))
    args["x-stream-max-segment-size-bytes"] = segment
    return args


def queue_arguments(meta: TopicMeta, queue_type: str) -> dict[str, Any]:
    """Arguments of a group queue: its type and the topic's retention. No dead-letter
    arguments: max_deliveries and dead_letter_topic are consumer settings (consumer.py)."""
    args: dict[str, Any] = {"x-queue-type": queue_type}
    if meta.retention_ms is not None:
        args["x-message-ttl"] = int(meta.retention_ms)
    if meta.retention_bytes is not None:
        args["x-max-length-bytes"] = int(meta.retention_bytes)
    if meta.retention_messages is not None:
        args["x-max-length"] = int(meta.retention_messages)
    return args
