"""What anymq created on a RabbitMQ vhost: topics, their settings and their groups.

AMQP 0-9-1 cannot list exchanges or queues, nor read back the arguments they were declared
with, and the management API is an optional plugin. So anymq keeps its own record, on the
broker, readable by every process:

- the record is one JSON document, the only message of the durable queue
  ``anymq/registry``;
- changes happen under a lock: the exclusive queue ``anymq/registry.lock``. RabbitMQ lets
  one connection at a time declare it (others get 405 RESOURCE_LOCKED and retry) and
  deletes it when that connection dies, so a crashed process never leaves the lock held;
- a change publishes the new document with a publisher confirm before it acks the old one,
  and every document carries a version, so a crash between the two leaves two documents
  of which readers take the newest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiormq
import aiormq.exceptions as amqp_errors
from pamqp import commands as spec

from anymq.errors import AnyMQError, BrokerUnavailable, TopicNotFound
from anymq_rabbitmq.connection import CONNECTION_ERRORS, Amqp, where
from anymq_rabbitmq.naming import Names

LOCK_TIMEOUT = 30.0

Doc = dict[str, Any]


class Registry:
    """Read and change the registry document under the broker-side lock."""

    def __init__(self, amqp: Amqp) -> None:
        self.amqp = amqp
        self._local = asyncio.Lock()  # one holder per connection: RabbitMQ sees one owner

    @contextlib.asynccontextmanager
    async def edit(self) -> AsyncIterator[Doc]:
        """The current document; changes made to it are saved when the block exits cleanly.

        A connection lost on the way (server restart) raises BrokerUnavailable: the change
        was saved or not, and the caller may simply repeat it.
        """
        try:
            async with self._editing() as doc:
                yield doc
        except CONNECTION_ERRORS as exc:
            if isinstance(exc, AnyMQError):
                raise
            raise self.amqp.unavailable(exc, "use the anymq registry") from exc

    @contextlib.asynccontextmanager
    async def _editing(self) -> AsyncIterator[Doc]:
        async with self._local:
            channel = await self._acquire()
            try:
                doc, last_tag = await self._read(channel)
                before = json.dumps(doc, sort_keys=True)
                try:
                    yield doc
                except TopicNotFound:  # stale entries dropped on the way out are saved
                    if json.dumps(doc, sort_keys=True) != before:
                        await self._write(channel, doc, last_tag)
                    raise
                if json.dumps(doc, sort_keys=True) != before:
                    await self._write(channel, doc, last_tag)
            finally:
                await self._release(channel)

    async def read(self) -> Doc:
        """A consistent copy of the document."""
        async with self.edit() as doc:
            return json.loads(json.dumps(doc))  # type: ignore[no-any-return]

    async def _acquire(self) -> aiormq.abc.AbstractChannel:
        deadline = time.monotonic() + LOCK_TIMEOUT
        pause = 0.005
        while True:
            channel = await self.amqp.raw_channel(confirms=True)
            try:
                await channel.queue_declare(Names.REGISTRY_LOCK, exclusive=True, auto_delete=False)
                return channel
            except amqp_errors.ChannelLockedResource:
                pass  # another connection holds it; the channel is closed already
            except BaseException:
                with contextlib.suppress(Exception):
                    await channel.close()
                raise
            if time.monotonic() > deadline:
                raise BrokerUnavailable(
                    f"the anymq registry lock on RabbitMQ at {where(self.amqp.url)} stayed held "
                    f"for {LOCK_TIMEOUT:g}s (queue {Names.REGISTRY_LOCK!r})"
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.1)

    async def _read(self, channel: aiormq.abc.AbstractChannel) -> tuple[Doc, int | None]:
        await channel.queue_declare(
            Names.REGISTRY, durable=True, arguments={"x-queue-type": "classic"}
        )
        best: Doc = {"v": 0, "topics": {}}
        last_tag: int | None = None
        while True:
            got = await channel.basic_get(Names.REGISTRY, no_ack=False)
            if not isinstance(got.delivery, spec.Basic.GetOk):
                break
            last_tag = got.delivery.delivery_tag
            try:
                doc = json.loads(got.body)
            except ValueError:
                continue  # not ours; dropped with the next write
            if isinstance(doc, dict) and int(doc.get("v", 0)) >= int(best.get("v", 0)):
                best = doc
        best.setdefault("topics", {})
        return best, last_tag

    async def _write(
        self, channel: aiormq.abc.AbstractChannel, doc: Doc, last_tag: int | None
    ) -> None:
        doc["v"] = int(doc.get("v", 0)) + 1
        body = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        await channel.basic_publish(
            body,
            exchange="",
            routing_key=Names.REGISTRY,
            properties=spec.Basic.Properties(delivery_mode=2, content_type="application/json"),
        )
        if last_tag is not None:
            await channel.basic_ack(last_tag, multiple=True)

    async def _release(self, channel: aiormq.abc.AbstractChannel) -> None:
        with contextlib.suppress(Exception):
            if channel.is_closed:  # an error closed it: free the lock from a fresh channel
                async with self.amqp.admin() as fresh:
                    await fresh.queue_delete(Names.REGISTRY_LOCK)
                return
            await channel.queue_delete(Names.REGISTRY_LOCK)
            await channel.close()  # returns unacked (unchanged) documents to the queue
