"""The raw side of sqlite://'s ratio: the same workload written straight against sqlite3.

One table used as a queue in the same file, one connection on one thread (as the driver):
a transaction per produced batch, a member claims up to ``prefetch`` rows in a transaction
and deletes each row as its ack; an asyncio.Event wakes waiting members in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from anymq.compare.cleanup import Tracker
from anymq.compare.perf.workload import Drain, PingPong, Plan, RoundResult, Workers, bodies, timed
from anymq.compare.profile import Baseline, driver_for
from tests.example_backend.anymq_sqlite.driver import SqliteBroker

T = TypeVar("T")
POLL = 0.1


class Raw:
    """A connection on its own thread, and the queue table's statements."""

    def __init__(self, path: str, table: str, timeout: float) -> None:
        self.table = table
        self.pool = ThreadPoolExecutor(1)
        # made on the pool's thread too: the connection is only ever touched by that thread
        self.db = self.pool.submit(self._connect, path, timeout).result()
        self.ready = asyncio.Event()

    @staticmethod
    def _connect(path: str, timeout: float) -> sqlite3.Connection:
        db = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    async def run(self, work: Callable[[], T]) -> T:
        """``work()`` on the connection's thread. It must not return a cursor: a cursor
        freed on the event loop's thread finalizes its statement there while the
        connection's thread runs the next one (sqlite3 InterfaceError "bad parameter or
        other API misuse", seen in CI under load)."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, work)

    async def execute(self, sql: str, args: tuple[object, ...] = ()) -> None:
        def work() -> None:
            self.db.execute(sql, args).close()

        await self.run(work)

    def _tx(self, work: Callable[[], T]) -> T:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            result = work()
        except BaseException:
            self.db.rollback()
            raise
        self.db.commit()
        return result

    async def put(self, items: list[bytes]) -> None:
        sql = f'INSERT INTO "{self.table}" (body) VALUES (?)'
        def insert() -> None:
            self.db.executemany(sql, [(b,) for b in items]).close()

        await self.run(lambda: self._tx(insert))
        self.ready.set()

    async def take(self, member: int, limit: int) -> list[tuple[int, bytes]]:
        def claim() -> list[tuple[int, bytes]]:
            rows: list[tuple[int, bytes]] = self.db.execute(
                f'SELECT id, body FROM "{self.table}" WHERE owner IS NULL ORDER BY id LIMIT ?',
                (limit,),
            ).fetchall()
            self.db.executemany(
                f'UPDATE "{self.table}" SET owner = ? WHERE id = ?', [(member, i) for i, _ in rows]
            )
            return rows

        self.ready.clear()
        rows = await self.run(lambda: self._tx(claim))
        if not rows:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ready.wait(), POLL)
        return rows

    async def ack(self, row: int) -> None:
        sql = f'DELETE FROM "{self.table}" WHERE id = ?'
        await self.execute(sql, (row,))


async def run_round(url: str, plan: Plan, tracker: Tracker) -> RoundResult:
    driver = driver_for(url)
    assert isinstance(driver, SqliteBroker)
    table = tracker.name("raw")
    raw = Raw(driver.path, table, driver.settings.connect_timeout)
    created = tracker.add(
        f"sqlite table {table}",
        lambda: raw.execute(f'DROP TABLE IF EXISTS "{table}"'),
    )
    try:
        schema = f'CREATE TABLE "{table}" (id INTEGER PRIMARY KEY, body BLOB, owner INTEGER)'
        await raw.execute(schema)
        batches = [bodies(share, plan.size) for share in plan.shares()]

        async def produce(messages: list[bytes]) -> None:
            for i in range(0, len(messages), plan.batch):
                await raw.put(messages[i : i + plan.batch])

        produce_seconds = await timed(
            asyncio.gather(*(produce(m) for m in batches)), plan.phase_timeout, "producing"
        )
        drain = Drain(plan.count)
        async with Workers() as workers:

            async def member(n: int) -> None:
                while not (workers.stopped or drain.done):
                    for row, data in await raw.take(n, plan.prefetch):
                        drain.mark(data)
                        await raw.ack(row)

            for n in range(plan.consumers):
                workers.start(member(n), drain)
            consume_seconds = await drain.timed(plan.phase_timeout)

        pingpong = PingPong(plan)
        async with Workers() as workers:

            async def listen(n: int) -> None:
                while not workers.stopped:
                    for row, data in await raw.take(n, plan.prefetch):
                        pingpong.received(data, time.perf_counter_ns())
                        await raw.ack(row)

            for n in range(plan.consumers):
                workers.start(listen(n), pingpong)
            await pingpong.run(lambda data: raw.put([data]))
    finally:
        await tracker.undo(created)
        await raw.run(raw.db.close)
        raw.pool.shutdown(wait=False)
    return RoundResult(produce_seconds, consume_seconds, pingpong.latencies_ns, drain.duplicates)


BASELINE = Baseline(
    client="sqlite3",
    description="stdlib sqlite3 on one thread: a table as the queue, a transaction per batch "
    "and per claim, a DELETE per ack",
    run_round=run_round,
)
