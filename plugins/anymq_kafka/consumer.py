"""The Kafka consumer driver: a group member (or a group-less reader) with anymq's acks.

Kafka has no per-message ack, so this driver keeps it client-side:

- a :class:`~anymq_kafka.tracker.Track` per assigned partition commits only the contiguous
  acked prefix, with later acks in the commit metadata, in the background every
  ``commit_interval_ms`` and always on revoke, seek and close;
- Kafka has no requeue: :class:`anymq.delivery.Delivery` keeps a nacked record and hands it
  out again through :meth:`KafkaConsumer.again` with ``delivery_count + 1`` (the
  partition's commit frontier waits for it); dead letters are produced by
  :meth:`KafkaConsumer.dead_letter`;
- a rebalance commits what is done, then forgets the revoked partitions' in-flight work,
  which the new owner reads again from the committed offset (at-least-once).

For speed, messages are built inside aiokafka's fetcher (:mod:`anymq_kafka.fetch`) and acks
are deferred: the ack ``Received.ack()`` calls is the ``append`` of a private list, which
``_drain`` settles before every fetch, commit, rebalance, seek and close.

``start()`` returns once the group join finished and every assigned partition has a
resolved position; a new group commits its starting positions at that moment, so it is
durable from then on.

A topic deleted by another client is noticed from the client's metadata updates
(:class:`~anymq_kafka.watch.TopicWatch`, refreshed at least every ``_METADATA_MAX_AGE_MS``):
``receive()`` then raises TopicNotFound, and commits that aiokafka would retry forever for
the deleted partitions are abandoned, so rebalances and ``close()`` do not hang on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from itertools import groupby, islice
from operator import attrgetter
from typing import Any

from aiokafka import (  # type: ignore[import-untyped]
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    TopicPartition,
)
from aiokafka import errors as kerr

from anymq.backend import ConsumerDriver, ConsumerOptions
from anymq.errors import AnyMQError, BrokerUnavailable, ClosedError, PublishError, TopicNotFound
from anymq.message import Received
from anymq.model import Position
from anymq_kafka import fetch, private
from anymq_kafka.context import KafkaContext
from anymq_kafka.errors import mapped, start_client
from anymq_kafka.options import KafkaOptions
from anymq_kafka.tracker import Track, decode
from anymq_kafka.watch import TopicWatch

log = logging.getLogger("anymq.kafka")

_HANDLE = attrgetter("handle")
_OFFSET = attrgetter("offset")

#: How long one getmany() waits before receive() looks at redeliveries and timers again.
_POLL_SLICE = 0.1
#: A member that holds no partition fetches nothing, so no fetch error refreshes its
#: metadata; this bounds how long it takes to notice that its topic was deleted
#: (aiokafka's default is 5 minutes). One small MetadataRequest per interval and consumer.
_METADATA_MAX_AGE_MS = 5_000


#: Seconds after a rebalance's seeks when the fetcher is woken once more (see _wake_later).
_WAKE_AGAIN = 0.03


def _wake_later(client: Any) -> None:
    """Wake aiokafka's fetcher once more, a moment after the seeks of a rebalance.

    A seek wakes the fetcher only if it is already waiting; one that has just finished a
    round and not yet begun waiting misses it and sleeps out its 0.2 s timeout (aiokafka
    0.9 more often than later versions: 1 first message in 30 came 0.2 s late there). No
    second seek here: by then the position may have moved on.
    """
    fetcher = getattr(client, "_fetcher", None)
    notify = getattr(fetcher, "_notify", None)
    if notify is None:
        return

    def wake() -> None:
        notify(getattr(fetcher, "_wait_consume_future", None))

    asyncio.get_running_loop().call_later(_WAKE_AGAIN, wake)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Forwards aiokafka's rebalance callbacks to the driver."""

    def __init__(self, owner: KafkaConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: set[Any]) -> None:
        await self.owner._on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[Any]) -> None:
        await self.owner._on_assigned(assigned)


class KafkaConsumer(ConsumerDriver):
    """A live subscription to one topic, in a consumer group or on all partitions."""

    def __init__(self, context: KafkaContext, options: ConsumerOptions) -> None:
        self.context = context
        self.hosts = context.hosts
        self.options = options
        settings = KafkaOptions.parse(options.extra, "consumer", defaults=context.defaults)
        self.settings = settings
        self.topic = options.topic
        self.group = options.group
        self.commit_interval = settings.commit_interval_ms / 1000
        self.join_timeout = settings.join_timeout
        self.client: Any = None
        self._acks: list[Received] = []
        """Acks deferred by :meth:`acker`; drained before anything reads the tracks."""
        self.native = False
        """True once :mod:`anymq_kafka.fetch` makes the client fetch Received messages."""
        self.fast = settings.fast_fetch
        """Use aiokafka's private fetcher and coordinator where their shape is as expected
        (:mod:`anymq_kafka.private`); False: public aiokafka API only."""
        self.coordinator: Any = None
        """aiokafka's group coordinator while the fast path uses it, else None."""
        self.dead_letters: Any = None
        self.tracks: dict[int, Track] = {}
        self.counts: dict[int, dict[int, int]] = {}
        """Delivery counts above 1 (or of messages handed back by a rebalance), per partition."""
        self.closed = False
        self._joined = asyncio.Event()
        self._join_error: BaseException | None = None
        self._commit_wanted = asyncio.Event()
        self._commit_pending = False
        self._commit_lock = asyncio.Lock()
        self._committer: asyncio.Task[None] | None = None
        self.watch: TopicWatch | None = None
        self._gone: TopicNotFound | None = None
        """Set once the topic is confirmed deleted (by any client): receive() raises it."""
        self._gone_waiter: asyncio.Future[None] | None = None

    # -- lifecycle ----------------------------------------------------------------------
    def _client_kwargs(self) -> dict[str, Any]:
        s = self.settings
        kwargs: dict[str, Any] = self.context.settings.client_kwargs()
        kwargs.update(
            group_id=self.group,
            enable_auto_commit=False,
            # Used only when a committed offset is out of range (retention deleted it):
            # continue with the oldest message still kept. New groups start explicitly.
            auto_offset_reset="earliest",
            session_timeout_ms=s.session_timeout_ms,
            heartbeat_interval_ms=s.heartbeat_interval_ms,
            max_poll_interval_ms=s.max_poll_interval_ms,
            rebalance_timeout_ms=s.rebalance_timeout_ms,
            fetch_max_wait_ms=s.fetch_max_wait_ms,
            isolation_level=s.isolation_level,
            metadata_max_age_ms=_METADATA_MAX_AGE_MS,
        )
        if s.max_partition_fetch_bytes is not None:
            kwargs["max_partition_fetch_bytes"] = s.max_partition_fetch_bytes
        if self.group is None:
            del kwargs["session_timeout_ms"], kwargs["heartbeat_interval_ms"]
            del kwargs["rebalance_timeout_ms"], kwargs["max_poll_interval_ms"]
        return kwargs

    async def start(self) -> None:
        context = self.context
        self._gone_waiter = asyncio.get_running_loop().create_future()
        # Asked now, not from the connection's cache: another client may have deleted it.
        partitions = await context.partitions(self.topic)
        if self.options.dead_letter_topic is not None:
            await self._start_dead_letters(partitions)
        client = AIOKafkaConsumer(**self._client_kwargs())
        self.client = client
        await start_client(
            client.start(), self._stop_clients, self.hosts, context.settings.connect_timeout
        )
        if self.fast:
            changed = []
            self.native = fetch.install(client, self.delivery)
            if not self.native:
                changed.append("fetcher")
            if self.group is not None:
                self.coordinator = private.coordinator(client)
                if self.coordinator is None:
                    changed.append("group coordinator")
            if changed:
                verb = "are" if len(changed) > 1 else "is"
                private.warn_once(f"{' and '.join(changed)} {verb}")
        self.watch = TopicWatch(context.admin, client._client.cluster, self._topic_gone)
        self.watch.add(self.topic)
        try:
            if self.group is None:
                await self._assign_all(partitions)
            else:
                client.subscribe([self.topic], listener=_Listener(self))
                await self._wait_joined()
                self._committer = asyncio.get_running_loop().create_task(self._commit_loop())
        except BaseException:
            await self._stop_clients()
            raise

    async def _wait_joined(self) -> None:
        try:
            async with asyncio.timeout(self.join_timeout):
                while not self._joined.is_set():
                    if self._gone is not None:
                        raise self._gone
                    # Coordinator errors (authorization, ...) would otherwise wait for getmany
                    # (on the public path they do: the join times out).
                    if self.coordinator is not None:
                        self.coordinator.check_errors()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._joined.wait(), 0.5)
        except TimeoutError as exc:
            raise BrokerUnavailable(
                f"consumer group {self.group!r} did not finish joining within "
                f"{self.join_timeout:g}s on {self.hosts}"
            ) from exc
        except kerr.KafkaError as exc:
            raise mapped(exc, topic=self.topic, hosts=self.hosts, publishing=False) from exc
        if self._join_error is not None:
            error = self._join_error
            raise mapped(error, topic=self.topic, hosts=self.hosts, publishing=False) from error

    async def _start_dead_letters(self, partitions: int) -> None:
        name = self.options.dead_letter_topic
        assert name is not None
        await self.context.ensure_topic(name, partitions)
        settings = self.context.settings
        producer = AIOKafkaProducer(**settings.client_kwargs(), acks="all", enable_idempotence=True)
        await start_client(
            producer.start(), producer.stop, settings.hosts, settings.connect_timeout
        )
        self.dead_letters = producer

    async def _assign_all(self, partitions: int) -> None:
        """No group: read every partition from the start position, nothing is committed."""
        tps = [TopicPartition(self.topic, p) for p in range(partitions)]
        self.client.assign(tps)
        self.client.pause(*tps)  # no fetch before the positions are set (see _on_assigned)
        starts = await self._positions(tps, self.options.start)
        for tp in tps:
            self.client.seek(tp, starts[tp])
            self.tracks[tp.partition] = Track(tp, starts[tp])
        self._release(tps)

    def partitions_held(self) -> tuple[int, ...]:
        return tuple(sorted(self.tracks))

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._drain()  # Delivery refuses acks from now on; delayed nacks stay pending
        committer, self._committer = self._committer, None
        if committer is not None:
            committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await committer
        if self.group is not None and self.client is not None and self._gone is None:
            try:
                async with asyncio.timeout(self.context.settings.request_timeout_ms / 1000):
                    await self._commit(list(self.tracks.values()), handover=True)
            except (kerr.KafkaError, TimeoutError, AnyMQError) as exc:
                log.warning("final commit of %s/%s failed: %s", self.topic, self.group, exc)
        for track in self.tracks.values():
            track.live = False
        self.tracks.clear()
        await self._stop_clients()

    async def _stop_clients(self) -> None:
        watch, self.watch = self.watch, None
        if watch is not None:
            watch.close()
        client, self.client = self.client, None
        producer, self.dead_letters = self.dead_letters, None
        if client is not None:
            await client.stop()  # sends LeaveGroup: the others take over at once
        if producer is not None:
            await producer.stop()

    # -- rebalance --------------------------------------------------------------------
    async def _on_revoked(self, revoked: set[Any]) -> None:
        """Commit what is done, then forget in-flight work of the revoked partitions."""
        self._drain()
        tracks = [self.tracks[tp.partition] for tp in revoked if tp.partition in self.tracks]
        if tracks and not self.closed and self._gone is None:
            try:
                await self._commit(tracks, handover=True)
            except (kerr.KafkaError, AnyMQError) as exc:
                log.warning("commit on revoke of %s/%s failed: %s", self.topic, self.group, exc)
        for track in tracks:
            self._retire(track)
            del self.tracks[track.tp.partition]

    def _retire(self, track: Track) -> None:
        """The track's unsettled messages will be delivered again: remember they were seen."""
        track.live = False
        unsettled = track.unsettled()
        if unsettled:
            counts = self.counts.setdefault(track.tp.partition, {})
            for offset in unsettled:
                counts.setdefault(offset, 1)

    async def _on_assigned(self, assigned: set[Any]) -> None:
        """Resolve every assigned partition's position; a new group commits its start.

        aiokafka may call this while the consumer closes (its client already handed to
        ``stop()``, e.g. after the topic was deleted): then there is nothing to assign.
        """
        client = self.client
        if client is None or self.closed:
            self._joined.set()
            return
        self._drain()
        tps = sorted(assigned)
        client.pause(*tps)  # until every position is set (see _release)
        try:
            kept = {tp.partition for tp in tps}
            for partition in [p for p in self.counts if p not in kept]:
                del self.counts[partition]
            committed = await self._committed(tps)
            fresh = [tp for tp in tps if tp not in committed or committed[tp].offset < 0]
            starts = await self._positions(fresh, self.options.start) if fresh else {}
            if self.client is not client:  # closed while the positions were read
                self._joined.set()
                return
            for tp in tps:
                old = self.tracks.pop(tp.partition, None)
                if old is not None:
                    self._retire(old)
                if tp in starts:
                    track = Track(tp, starts[tp])
                else:
                    meta = committed[tp]
                    done, seen = decode(meta.metadata, meta.offset)
                    track = Track(tp, meta.offset, done)
                    if seen:
                        counts = self.counts.setdefault(tp.partition, {})
                        for offset, count in seen.items():
                            counts[offset] = max(count, counts.get(offset, 0))
                self.tracks[tp.partition] = track
                client.seek(tp, track.next)
            if starts:
                await client.commit({tp: (offset, "") for tp, offset in starts.items()})
        except Exception as exc:
            log.exception("assignment of %s/%s failed", self.topic, self.group)
            if not self._joined.is_set():
                self._join_error = exc
        finally:
            if self.client is not None:
                self._release(tps)
        self._joined.set()

    async def _committed(self, tps: list[Any]) -> dict[Any, Any]:
        """The group's committed offsets with their metadata (the acks beyond the offset)."""
        if self.coordinator is not None:
            return await self.coordinator.fetch_committed_offsets(tps)  # type: ignore[no-any-return]
        assert self.group is not None
        return await self.context.committed(self.group, tps)

    def _release(self, tps: list[Any]) -> None:
        """Let aiokafka fetch the partitions that were paused while their positions were set.

        The pause keeps aiokafka from fetching at its own reset position, which the seek
        would throw away. The seek after resume wakes its fetcher: when its offset reset
        finished at the moment of our seek, the fetcher could miss that wake-up and sleep out
        its 0.2 s timeout, holding back the first messages after start().
        """
        client = self.client
        owned = client.assignment()
        for tp in tps:
            if tp not in owned:
                continue
            client.resume(tp)
            track = self.tracks.get(tp.partition)
            if track is not None and track.tp == tp:
                client.seek(tp, track.next)
        _wake_later(client)

    async def _positions(self, tps: list[Any], position: Position) -> dict[Any, int]:
        """Concrete offsets for ``position`` on each partition (clamped to the log)."""
        client = self.client
        if position.kind == "earliest":
            result: dict[Any, int] = await client.beginning_offsets(tps)
            return result
        end: dict[Any, int] = await client.end_offsets(tps)
        if position.kind == "latest":
            return end
        if position.kind == "timestamp":
            found = await client.offsets_for_times({tp: position.timestamp_ms or 0 for tp in tps})
            return {tp: (found[tp].offset if found.get(tp) else end[tp]) for tp in tps}
        begin: dict[Any, int] = await client.beginning_offsets(tps)
        out = {}
        for tp in tps:
            if position.partition is None or position.partition == tp.partition:
                out[tp] = min(max(position.offset or 0, begin[tp]), end[tp])
            else:
                out[tp] = end[tp]
        return out

    # -- commits ----------------------------------------------------------------------
    async def _commit(self, tracks: list[Track], *, handover: bool = False) -> None:
        """Commit the frontier (and done offsets above it) of the dirty tracks; on a
        handover also tracks with messages in flight, to pass on their delivery counts."""
        async with self._commit_lock:
            self._drain()
            if self._gone is not None:
                raise self._gone
            offsets = {}
            for track in tracks:
                if track.live and (track.dirty or (handover and track.pending)):
                    track.dirty = False
                    offsets[track.tp] = track.commit_point(self.counts.get(track.tp.partition))
            if not offsets:
                return
            try:
                await self._unless_gone(self.client.commit(offsets))
            except (kerr.IllegalStateError, kerr.CommitFailedError):
                # The partitions moved on (rebalance): their new owner starts from the last
                # successful commit, which is at-least-once. Nothing to retry here.
                log.info(
                    "commit of %s/%s skipped: partitions were reassigned", self.topic, self.group
                )
            except BaseException:
                for track in tracks:
                    if track.tp in offsets and track.live:
                        track.dirty = True
                raise

    async def _unless_gone(self, call: Awaitable[Any]) -> None:
        """Await ``call`` unless the topic is found deleted first: aiokafka retries an
        OffsetCommit of a deleted topic's partitions forever (UnknownTopicOrPartition is
        retriable), which held up the commit loop, rebalances and so receive()."""
        gone = self._gone_waiter
        task = asyncio.ensure_future(call)
        if gone is None:
            await task
            return
        try:
            await asyncio.wait((task, gone), return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            task.cancel()
            raise
        if not task.done():
            task.cancel()
            await asyncio.wait((task,))
        if task.cancelled() and self._gone is not None:
            raise self._gone
        task.result()

    def _topic_gone(self, topic: str) -> None:
        """TopicWatch callback: the topic was deleted (by any client)."""
        if self._gone is None:
            self._gone = TopicNotFound(self.topic, "kafka", "it was deleted while consuming")
            log.info("topic %r was deleted while %s consumed it", topic, self.group or "a reader")
        if self._gone_waiter is not None and not self._gone_waiter.done():
            self._gone_waiter.set_result(None)

    async def _commit_loop(self) -> None:
        """Commit acks in batches: at most one OffsetCommit per commit interval."""
        while not self.closed and self._gone is None:
            await self._commit_wanted.wait()
            await asyncio.sleep(self.commit_interval)
            self._commit_wanted.clear()
            self._commit_pending = False
            try:
                await self._commit(list(self.tracks.values()))
            except TopicNotFound:
                return  # receive() raises it; nothing left to commit
            except Exception as exc:  # keep committing: a failed round is retried
                log.warning("background commit of %s/%s failed: %s", self.topic, self.group, exc)
                await asyncio.sleep(1.0)
                self._wake_committer()
                continue
            if any(track.pending for track in self.tracks.values()):
                self._wake_committer()  # messages in flight: their deferred acks need a round

    def _wake_committer(self) -> None:
        if not self._commit_pending:
            self._commit_pending = True
            self._commit_wanted.set()

    # -- receiving --------------------------------------------------------------------
    def _take(self, records: dict[Any, list[Any]], out: list[Received]) -> None:
        """Hand fetched messages to their partition's Track (the hot path: kept flat)."""
        tracks = self.tracks
        for tp, batch in records.items():
            if not self.native:
                batch = [fetch.from_consumer_record(rec, self.delivery) for rec in batch]
            partition = tp.partition
            track = tracks.get(partition)
            if track is None:  # assignment callback failed: start from what was fetched
                track = tracks[partition] = Track(tp, batch[0].offset)
            counts = self.counts.get(partition) if self.counts else None
            if track.acked or counts:
                self._take_slow(track, batch, counts, out)
                continue
            for msg in batch:
                msg.handle = track
            track.pending.extend(map(_OFFSET, batch))
            track.next = batch[-1].offset + 1
            out.extend(batch)

    def _take_slow(
        self,
        track: Track,
        batch: list[Received],
        counts: dict[int, int] | None,
        out: list[Received],
    ) -> None:
        """Messages of a partition with done offsets to skip or delivery counts to continue."""
        for msg in batch:
            offset: int = msg.offset  # type: ignore[assignment]
            if not track.fetched(offset):
                continue
            if counts and offset in counts:
                msg.delivery_count = counts[offset] = counts[offset] + 1
            msg.handle = track
            out.append(msg)

    async def receive(self, max_messages: int, timeout: float | None) -> list[Received]:
        client = self.client
        if self.closed or client is None:
            if self.closed:
                return []
            raise ClosedError("consumer is not started")
        if self._gone is not None:
            raise self._gone
        if self._acks:
            self._drain()  # before fetching: the acked messages can be freed first
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        out: list[Received] = []
        ready = self.delivery.ready  # client-side redeliveries: Delivery hands them out
        while True:
            if ready:
                return out
            wait = _POLL_SLICE if deadline is None else min(_POLL_SLICE, deadline - loop.time())
            try:
                records = await client.getmany(
                    timeout_ms=max(0, int(wait * 1000)), max_records=max_messages - len(out)
                )
            except kerr.ConsumerStoppedError:
                return out
            except kerr.KafkaError as exc:
                if self.closed:
                    return out
                raise mapped(exc, topic=self.topic, hosts=self.hosts, publishing=False) from exc
            if records:
                self._take(records, out)
                self._wake_committer()  # deferred acks of these are committed in rounds
            if out or self.closed:
                return out
            if self._gone is not None:
                raise self._gone
            if deadline is not None and loop.time() >= deadline:
                return out

    # -- primitives for anymq.delivery -----------------------------------------------------
    def acker(self) -> Callable[[Received], None]:
        """The deferred list's append: the one-ack-per-message hot path costs no call."""
        return self._acks.append

    def ack(self, message: Received) -> None:
        """Synchronous bookkeeping; the committer task sends commits in the background."""
        self._settle((message,))

    async def ack_many(self, messages: Sequence[Received]) -> None:
        """Settle a batch with one wake-up of the committer."""
        self._settle(messages)

    def _drain(self) -> None:
        """Settle the acks that :meth:`acker` deferred."""
        acks = self._acks
        if acks:
            batch = acks.copy()
            acks.clear()
            self._settle(batch)

    def _settle(self, messages: Sequence[Received]) -> None:
        """Record acks. The usual case is handled per run of one partition's messages:
        acked in delivery order from the frontier on, the run just moves the frontier."""
        counted = self.counts
        for track, run in groupby(messages, _HANDLE):
            if not track.live:
                continue  # the partition moved on: its new owner reads these again
            batch = list(run)
            pending = track.pending
            size = len(batch)
            if (
                not track.acked
                and size <= len(pending)
                and list(map(_OFFSET, batch)) == list(islice(pending, size))
            ):
                if size == len(pending):
                    pending.clear()
                else:
                    for _ in range(size):
                        pending.popleft()
            else:
                for message in batch:
                    track.ack(message.offset)
            track.dirty = True
            if counted:
                counts = counted.get(track.tp.partition)
                if counts:
                    for message in batch:
                        counts.pop(message.offset, None)  # type: ignore[arg-type]
        self._wake_committer()

    def holds(self, message: Received) -> bool:
        track: Track = message.handle
        return track.live

    def again(self, message: Received) -> Received | None:
        """A nacked record handed out again; it counts one more delivery (the count goes
        into the commit metadata, so a new owner of the partition keeps counting)."""
        track: Track = message.handle
        if not track.live or self.closed:
            return None
        counts = self.counts.setdefault(track.tp.partition, {})
        count = counts.get(message.offset, message.delivery_count) + 1  # type: ignore[arg-type]
        counts[message.offset] = count  # type: ignore[index]
        redelivered = super().again(message)
        assert redelivered is not None
        redelivered.delivery_count = count
        return redelivered

    async def dead_letter(self, message: Received, topic: str, headers: dict[str, bytes]) -> None:
        assert self.dead_letters is not None
        partitions = await self.context.require(topic)
        try:
            await self.dead_letters.send_and_wait(
                topic,
                message.body,
                key=message.key,
                partition=(message.partition or 0) % partitions,
                headers=list(headers.items()),
            )
        except kerr.KafkaError as exc:
            error = mapped(exc, topic=topic, hosts=self.hosts)
            if not isinstance(error, PublishError):
                raise error from exc
            raise type(error)(
                f"could not dead-letter {message!r} to {topic!r}; it stays unacked: {exc}",
                retriable=error.retriable,
            ) from exc

    # -- replay -----------------------------------------------------------------------
    async def seek(self, position: Position) -> None:
        if self._gone is not None:
            raise self._gone
        self._drain()
        tps = [
            track.tp
            for track in self.tracks.values()
            if position.partition is None or position.partition == track.tp.partition
        ]
        if not tps:
            return
        try:
            targets = await self._positions(tps, position)
        except kerr.KafkaError as exc:
            raise mapped(exc, topic=self.topic, hosts=self.hosts, publishing=False) from exc
        async with self._commit_lock:
            for tp in tps:
                old = self.tracks.get(tp.partition)
                if old is not None:
                    old.live = False
                self.counts.pop(tp.partition, None)
                self.tracks[tp.partition] = Track(tp, targets[tp])
                self.client.seek(tp, targets[tp])
            if self.group is not None:
                try:
                    await self.client.commit({tp: (targets[tp], "") for tp in tps})
                except (kerr.IllegalStateError, kerr.CommitFailedError) as exc:
                    log.info("seek commit of %s/%s skipped: %s", self.topic, self.group, exc)
                except kerr.KafkaError as exc:
                    raise mapped(exc, topic=self.topic, hosts=self.hosts, publishing=False) from exc
