"""The sqlite:// drivers: a broker, a producer and a consumer that supplies primitives.

Message-broker semantics (RabbitMQ's, not Kafka's): a group gets what is sent after it
first subscribed, members of a group share its messages, an acked message is gone. The
policy (closed checks, the nack decision, dead-letter headers) is anymq.delivery's.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import sqlite3
import time
import uuid
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any

from anymq.backend import (
    BrokerDriver,
    ConsumerDriver,
    ConsumerOptions,
    Outgoing,
    ProducerDriver,
    ProducerOptions,
)
from anymq.errors import ClosedError, ConfigError, TopicNotFound
from anymq.features import Capabilities, Feature
from anymq.message import Receipt, Received
from anymq.model import GroupInfo, PartitionLag, Retention, TopicInfo
from anymq.url import URL
from tests.example_backend.anymq_sqlite.options import SqliteOptions
from tests.example_backend.anymq_sqlite.store import (
    BACKEND,
    Record,
    Row,
    Store,
    decode_headers,
    now_ms,
)

CAPABILITIES = Capabilities(
    backend=BACKEND,
    features=frozenset(
        {
            Feature.CONSUMER_GROUPS,
            Feature.FAN_OUT,
            Feature.BROADCAST,
            Feature.DURABLE_GROUPS,
            Feature.DECLARED_GROUPS,
            Feature.DEAD_LETTER,
            Feature.NACK_DELAY,
            Feature.DELAYED_DELIVERY,
        }
    ),
    max_message_bytes=1_000_000,
    max_batch=10_000,
    in_process=True,  # a file, no network: nothing can be unreachable
)


class Bell:
    """Wakes this process's consumers of one file at once when something was written there
    (other processes' writes are found by polling)."""

    def __init__(self) -> None:
        self.waiters: set[asyncio.Future[None]] = set()

    def waiter(self) -> asyncio.Future[None]:
        future = asyncio.get_running_loop().create_future()
        self.waiters.add(future)
        return future

    def ring(self) -> None:
        waiters, self.waiters = self.waiters, set()
        for future in waiters:
            if not future.done():
                future.get_loop().call_soon_threadsafe(_resolve, future)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


_bells: dict[str, Bell] = {}


def database_path(url: URL) -> str:
    """The file a URL names: ``sqlite:///relative.db`` or ``sqlite:////absolute.db``."""
    if url.hosts:
        raise ConfigError(
            "sqlite:// URLs name a file, not a host: use sqlite:///relative.db or "
            "sqlite:////absolute/path.db"
        )
    if not url.path or url.path == ":memory:":
        raise ConfigError(
            "sqlite:// needs a database file every connection can open, e.g. "
            "sqlite:////tmp/anymq.db (':memory:' is private to one connection)"
        )
    return os.path.abspath(url.path)


class SqliteBroker(BrokerDriver):
    """``sqlite:///relative.db`` or ``sqlite:////absolute/path.db``."""

    name = BACKEND
    capabilities = CAPABILITIES
    declared = SqliteOptions

    def __init__(self, url: URL, options: Mapping[str, Any]) -> None:
        super().__init__(url, options)
        self.settings = SqliteOptions.parse(self.options)
        self.path = database_path(url)
        self.store = Store(
            self.path, busy_timeout=self.settings.connect_timeout, fsync=self.settings.fsync
        )
        self.bell = _bells.setdefault(self.path, Bell())

    async def start(self) -> None:
        if self.url.username or self.url.password is not None:  # refused here, not at
            # connect(): anymq.connect() must build a broker from any well-formed URL
            raise ConfigError("a sqlite database has no login: remove 'user:password@'")
        await self.store.open()

    async def close(self) -> None:
        await self.store.close()

    async def create_topic(
        self, name: str, *, partitions: int, retention: Retention, options: Mapping[str, Any]
    ) -> bool:
        return await self.store.transact(lambda db: Store.create_topic(db, name))

    async def delete_topic(self, name: str) -> None:
        await self.store.transact(lambda db: Store.delete_topic(db, name))
        self.bell.ring()  # its consumers notice at once

    async def describe_topic(self, name: str) -> TopicInfo:
        def describe(db: sqlite3.Connection) -> TopicInfo:
            Store.need_topic(db, name)
            [(stored,)] = Store.query(db, "SELECT count(*) FROM messages WHERE topic = ?", name)
            groups = Store.query(
                db, "SELECT name FROM groups WHERE topic = ? AND name IS NOT NULL", name
            )
            details = {
                "path": self.path,
                "messages": stored,
                "groups": sorted(g for (g,) in groups),
            }
            return TopicInfo(name=name, partitions=1, details=details)

        return await self.store.run(describe)

    async def list_topics(self) -> list[str]:
        rows = await self.store.run(lambda db: Store.query(db, "SELECT name FROM topics"))
        return [name for (name,) in rows]

    async def describe_group(self, topic: str, group: str) -> GroupInfo:
        waiting, leased = await self.store.run(lambda db: Store.backlog(db, topic, group))
        lag = PartitionLag(partition=None, committed=None, end=None, lag=waiting)
        return GroupInfo(topic=topic, group=group, partitions=(lag,), in_flight=leased)

    async def create_group(self, topic: str, group: str) -> bool:
        return await self.store.transact(lambda db: Store.declare(db, topic, group))

    async def group_exists(self, topic: str, group: str) -> bool:
        sql = "SELECT 1 FROM groups WHERE topic = ? AND name = ?"
        return bool(await self.store.run(lambda db: Store.query(db, sql, topic, group)))

    def producer(self, options: ProducerOptions) -> ProducerDriver:
        return SqliteProducer(self)

    def consumer(self, options: ConsumerOptions) -> ConsumerDriver:
        return SqliteConsumer(self, options)


class SqliteProducer(ProducerDriver):
    """A send is confirmed once its transaction committed."""

    def __init__(self, broker: SqliteBroker) -> None:
        self.broker = broker
        self.closed = False

    async def send(self, topic: str, message: Outgoing) -> Receipt:
        [receipt] = await self.send_batch(topic, [message])
        return receipt

    async def send_batch(self, topic: str, messages: Sequence[Outgoing]) -> list[Receipt]:
        """One transaction: the whole batch is stored, or nothing is."""
        if self.closed:
            raise ClosedError("producer is closed")
        records: list[Record] = [(m.key, m.value, m.headers, m.delay) for m in messages]
        ids = await self.broker.store.transact(
            lambda db: Store.append(db, topic, records), sending=True
        )
        self.broker.bell.ring()
        return [Receipt(topic, None, None, str(msg)) for msg in ids]

    async def close(self) -> None:
        self.closed = True


class SqliteConsumer(ConsumerDriver):
    """A member of a group (or of its own private group): leases, acks and hands back rows."""

    native_requeue = True  # requeue() hands the row back in the database
    native_delay = True  # ...with its visible_at in the future

    def __init__(self, broker: SqliteBroker, options: ConsumerOptions) -> None:
        settings = SqliteOptions.parse(options.extra, "consumer")
        self.broker = broker
        self.store = broker.store
        self.options = options
        self.poll = settings.poll_interval
        self.lease = settings.visibility_timeout
        self.owner = uuid.uuid4().hex
        self.group: int | None = None
        self.closed = False

    async def start(self) -> None:
        topic, group, dlt = self.options.topic, self.options.group, self.options.dead_letter_topic

        def join(db: sqlite3.Connection) -> int:
            if dlt is not None:  # dead letters need somewhere to go
                Store.create_topic(db, dlt)
            return Store.join(db, topic, group)

        self.group = await self.store.transact(join)

    def _live(self) -> int:
        if self.closed or self.group is None:
            raise ClosedError("consumer is closed")
        return self.group

    def _take(self, db: sqlite3.Connection, group: int, limit: int) -> list[Row]:
        """Lease what is visible; a read first, so an idle poll takes no write lock."""
        topic = self.options.topic
        ready = "SELECT 1 FROM queue WHERE grp = ? AND visible_at <= ? LIMIT 1"
        if not Store.query(db, ready, group, now_ms()):
            if not Store.has_topic(db, topic):
                raise TopicNotFound(topic, BACKEND, "it was deleted while consuming")
            return []
        lease_ms = int(self.lease * 1000)
        return Store.write(db, lambda db: Store.lease(db, group, self.owner, limit, lease_ms))

    async def receive(self, max_messages: int, timeout: float | None) -> list[Received]:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        bell = self.broker.bell
        while True:
            group = self._live()
            waiter = bell.waiter()  # before looking: a send after the look still wakes us
            try:
                expires = time.monotonic() + self.lease
                rows = await self.store.run(
                    functools.partial(self._take, group=group, limit=max_messages)
                )
                if rows:
                    return [self._received(row, expires) for row in rows]
                wait = self.poll if deadline is None else min(self.poll, deadline - loop.time())
                if wait <= 0:
                    return []
                await asyncio.wait({waiter}, timeout=wait)
            finally:
                bell.waiters.discard(waiter)

    def _received(self, row: Row, expires: float) -> Received:
        msg, count, key, value, headers, ts = row
        topic = self.options.topic
        return Received(
            value,
            key,
            decode_headers(headers),
            topic,
            None,
            None,
            ts,
            count,
            str(msg),
            (msg, expires),
            self.delivery,
        )

    # -- primitives for anymq.delivery -----------------------------------------------------
    def ack(self, message: Received) -> Awaitable[None]:
        return self.ack_many([message])

    async def ack_many(self, messages: Sequence[Received]) -> None:
        group, msgs = self._live(), [m.handle[0] for m in messages]
        await self.store.transact(lambda db: Store.settle(db, group, self.owner, msgs))

    def holds(self, message: Received) -> bool:
        """Still ours while the lease lasts; after it the group may have given it to another."""
        return bool(message.handle[1] > time.monotonic())

    async def requeue(self, message: Received, delay: float | None) -> None:
        group, msg = self._live(), message.handle[0]
        visible_at = now_ms() + int((delay or 0) * 1000)
        await self.store.transact(lambda db: Store.release(db, group, self.owner, msg, visible_at))
        self.broker.bell.ring()

    async def dead_letter(self, message: Received, topic: str, headers: dict[str, bytes]) -> None:
        record: Record = (message.key, message.body, headers, None)
        await self.store.transact(lambda db: Store.append(db, topic, [record]), sending=True)
        self.broker.bell.ring()

    async def close(self) -> None:
        """Unsettled messages go back to the group at once; a private group goes away."""
        if self.closed:
            return
        self.closed = True
        group, private = self.group, self.options.group is None
        if group is None:
            return

        def leave(db: sqlite3.Connection) -> None:
            if private:
                Store.drop_group(db, group)
            else:
                Store.release(db, group, self.owner, None, 0)

        with contextlib.suppress(ClosedError):  # the broker closed first: the lease frees them
            await self.store.transact(leave)
        self.broker.bell.ring()
