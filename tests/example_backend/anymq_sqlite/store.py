"""The SQLite side: the schema and every statement, run on one thread per connection.

A topic fans out to its groups at send time: each group (a durable named one, or the
private one of a consumer without a group) has a queue row per message. Receiving leases
rows (owner + visible_at, like an SQS visibility timeout), acking deletes them, a nack
hands them back with a new visible_at. A message row goes when its last queue row goes.
sqlite3 blocks, so each connection lives on its own single-thread executor.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from anymq.errors import ClosedError, TopicNotFound
from tests.example_backend.anymq_sqlite.errors import mapped

T = TypeVar("T")
BACKEND = "sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS topics (name TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, key BLOB, value BLOB NOT NULL,
    headers TEXT, ts INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, name TEXT, UNIQUE (topic, name));
CREATE TABLE IF NOT EXISTS queue (
    grp INTEGER NOT NULL, msg INTEGER NOT NULL, visible_at INTEGER NOT NULL, owner TEXT,
    deliveries INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (grp, msg)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS queue_msg ON queue (msg);
"""

# (msg id, deliveries, key, value, headers, ts): one leased message
Row = tuple[int, int, bytes | None, bytes, str | None, int]
# (key, value, headers, delay seconds or None): one message to store
Record = tuple[bytes | None, bytes, dict[str, bytes] | None, float | None]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def encode_headers(headers: dict[str, bytes] | None) -> str | None:
    """Header values are bytes: latin-1 maps each byte to one character and back."""
    return json.dumps({k: v.decode("latin-1") for k, v in headers.items()}) if headers else None


def decode_headers(text: str | None) -> dict[str, bytes]:
    return {k: v.encode("latin-1") for k, v in json.loads(text).items()} if text else {}


class Store:
    """One sqlite3 connection, used only from its own thread."""

    def __init__(self, path: str, *, busy_timeout: float, fsync: bool) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self.fsync = fsync
        self.db: sqlite3.Connection | None = None
        self.pool: ThreadPoolExecutor | None = None

    # -- running on the connection's thread ----------------------------------------------
    async def run(self, work: Callable[[sqlite3.Connection], T], *, sending: bool = False) -> T:
        """``work(connection)`` on the store's thread; sqlite3 errors come back mapped."""
        db, pool = self.db, self.pool
        if db is None or pool is None:
            raise ClosedError("the sqlite broker is closed")
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, work, db)
        except sqlite3.Error as exc:
            raise mapped(exc, self.path, sending=sending) from exc

    async def transact(
        self, work: Callable[[sqlite3.Connection], T], *, sending: bool = False
    ) -> T:
        """``work`` as one write transaction on the store's thread."""
        return await self.run(lambda db: self.write(db, work), sending=sending)

    @staticmethod
    def write(db: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
        """One write transaction, taking the lock up front; rolled back on any error."""
        db.execute("BEGIN IMMEDIATE")
        try:
            result = work(db)
        except BaseException:
            db.rollback()
            raise
        db.commit()
        return result

    async def open(self) -> None:
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="anymq-sqlite")

        def connect(_: object) -> sqlite3.Connection:
            db = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute(f"PRAGMA synchronous={'FULL' if self.fsync else 'NORMAL'}")
                db.executescript(SCHEMA)
            except BaseException:
                db.close()
                raise
            return db

        try:
            self.db = await asyncio.get_running_loop().run_in_executor(self.pool, connect, None)
        except sqlite3.Error as exc:
            self.pool.shutdown(wait=False)
            self.pool = None
            raise mapped(exc, self.path) from exc

    async def close(self) -> None:
        db, pool = self.db, self.pool
        self.db = self.pool = None
        if db is not None and pool is not None:
            await asyncio.get_running_loop().run_in_executor(pool, db.close)
            pool.shutdown(wait=False)

    # -- statements (called on the store's thread) ---------------------------------------
    @staticmethod
    def has_topic(db: sqlite3.Connection, name: str) -> bool:
        return db.execute("SELECT 1 FROM topics WHERE name = ?", (name,)).fetchone() is not None

    @staticmethod
    def need_topic(db: sqlite3.Connection, name: str) -> None:
        if not Store.has_topic(db, name):
            raise TopicNotFound(name, BACKEND)

    @staticmethod
    def append(db: sqlite3.Connection, topic: str, records: Sequence[Record]) -> list[int]:
        """Store messages and queue them for every group of ``topic`` (inside write())."""
        Store.need_topic(db, topic)
        groups = [g for (g,) in db.execute("SELECT id FROM groups WHERE topic = ?", (topic,))]
        ids: list[int] = []
        ts = now_ms()
        for key, value, headers, delay in records:
            cursor = db.execute(
                "INSERT INTO messages (topic, key, value, headers, ts) VALUES (?, ?, ?, ?, ?)",
                (topic, key, value, encode_headers(headers), ts),
            )
            msg = int(cursor.lastrowid or 0)
            ids.append(msg)
            visible = ts + int((delay or 0) * 1000)
            db.executemany(
                "INSERT INTO queue (grp, msg, visible_at) VALUES (?, ?, ?)",
                [(g, msg, visible) for g in groups],
            )
        if not groups:  # nobody subscribed: a message broker keeps nothing
            db.execute("DELETE FROM messages WHERE topic = ?", (topic,))
        return ids

    @staticmethod
    def lease(
        db: sqlite3.Connection, group: int, owner: str, limit: int, lease_ms: int
    ) -> list[Row]:
        """Up to ``limit`` visible messages of ``group``, now ``owner``'s until the lease ends."""
        now = now_ms()
        rows: list[Row] = db.execute(
            "SELECT q.msg, q.deliveries + 1, m.key, m.value, m.headers, m.ts FROM queue q "
            "JOIN messages m ON m.id = q.msg WHERE q.grp = ? AND q.visible_at <= ? "
            "ORDER BY q.msg LIMIT ?",
            (group, now, limit),
        ).fetchall()
        db.executemany(
            "UPDATE queue SET owner = ?, visible_at = ?, deliveries = deliveries + 1 "
            "WHERE grp = ? AND msg = ?",
            [(owner, now + lease_ms, group, row[0]) for row in rows],
        )
        return rows

    @staticmethod
    def settle(db: sqlite3.Connection, group: int, owner: str, msgs: Sequence[int]) -> None:
        """Acked: the group is done with these; a message nobody else waits for goes."""
        for msg in msgs:
            db.execute(
                "DELETE FROM queue WHERE grp = ? AND msg = ? AND owner = ?", (group, msg, owner)
            )
            db.execute(
                "DELETE FROM messages WHERE id = ? AND NOT EXISTS "
                "(SELECT 1 FROM queue WHERE msg = ?)",
                (msg, msg),
            )

    @staticmethod
    def release(
        db: sqlite3.Connection, group: int, owner: str, msg: int | None, visible_at: int
    ) -> None:
        """Hand ``msg`` (None: every message ``owner`` holds) back to the group."""
        where, args = "grp = ? AND owner = ?", [group, owner]
        if msg is not None:
            where += " AND msg = ?"
            args.append(msg)
        db.execute(
            f"UPDATE queue SET owner = NULL, visible_at = ? WHERE {where}", [visible_at, *args]
        )

    @staticmethod
    def declare(db: sqlite3.Connection, topic: str, name: str) -> bool:
        """Make the named group (it gets every message sent from now on); False if it was
        there. Used by a consumer's join and by create_group alike."""
        Store.need_topic(db, topic)
        sql = "INSERT OR IGNORE INTO groups (topic, name) VALUES (?, ?)"
        return db.execute(sql, (topic, name)).rowcount == 1

    @staticmethod
    def join(db: sqlite3.Connection, topic: str, name: str | None) -> int:
        """The group's id, made on first use; a consumer without a group gets its own."""
        Store.need_topic(db, topic)
        if name is not None:
            Store.declare(db, topic, name)
            row = db.execute(
                "SELECT id FROM groups WHERE topic = ? AND name = ?", (topic, name)
            ).fetchone()
            return int(row[0])
        return int(db.execute("INSERT INTO groups (topic) VALUES (?)", (topic,)).lastrowid or 0)

    @staticmethod
    def drop_group(db: sqlite3.Connection, group: int) -> None:
        db.execute("DELETE FROM queue WHERE grp = ?", (group,))
        db.execute("DELETE FROM groups WHERE id = ?", (group,))
        db.execute("DELETE FROM messages WHERE id NOT IN (SELECT msg FROM queue)")

    @staticmethod
    def create_topic(db: sqlite3.Connection, name: str) -> bool:
        return db.execute("INSERT OR IGNORE INTO topics (name) VALUES (?)", (name,)).rowcount == 1

    @staticmethod
    def delete_topic(db: sqlite3.Connection, name: str) -> None:
        Store.need_topic(db, name)
        db.execute(
            "DELETE FROM queue WHERE grp IN (SELECT id FROM groups WHERE topic = ?)", (name,)
        )
        for table, column in (("groups", "topic"), ("messages", "topic"), ("topics", "name")):
            db.execute(f"DELETE FROM {table} WHERE {column} = ?", (name,))

    @staticmethod
    def backlog(db: sqlite3.Connection, topic: str, group: str) -> tuple[int, int]:
        """(messages waiting for the group, of which leased to a member)."""
        Store.need_topic(db, topic)
        row = db.execute(
            "SELECT count(*), count(q.owner) FROM queue q JOIN groups g ON g.id = q.grp "
            "WHERE g.topic = ? AND g.name = ?",
            (topic, group),
        ).fetchone()
        return int(row[0]), int(row[1])

    @staticmethod
    def query(db: sqlite3.Connection, sql: str, *args: Any) -> list[Any]:
        return db.execute(sql, args).fetchall()
