"""Notice a topic deleted by another client, from metadata aiokafka fetches anyway.

aiokafka refreshes a client's metadata after a produce or fetch error (and every
``metadata_max_age_ms``); a deleted topic then drops out of it, while the client itself goes
on retrying until its request timeout (producer) or forever (consumer). This watcher
listens to those updates, so the hot send and fetch paths pay nothing. A topic that was in
the metadata and then is missing is checked once more with a request that never creates it
(:meth:`KafkaAdmin.topic_metadata`), because a topic is also missing from aiokafka's
metadata for a moment while a broker auto-creates it. Only then is it declared gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from anymq.errors import AnyMQError, TopicNotFound

if TYPE_CHECKING:
    from anymq_kafka.admin import KafkaAdmin

log = logging.getLogger("anymq.kafka")


class TopicWatch:
    """Calls ``on_gone(topic)`` after each metadata update of ``cluster`` that a watched
    topic is confirmed deleted in (again on later updates, for work that was retried)."""

    def __init__(self, admin: KafkaAdmin, cluster: Any, on_gone: Callable[[str], None]) -> None:
        self.admin = admin
        self.cluster = cluster
        self.on_gone = on_gone
        self.topics: set[str] = set()
        self.seen: set[str] = set()
        """Watched topics that were in this client's metadata at least once."""
        self.gone: set[str] = set()
        self._checks: dict[str, asyncio.Task[None]] = {}
        cluster.add_listener(self._updated)

    def add(self, topic: str) -> None:
        self.topics.add(topic)
        if self.cluster.partitions_for_topic(topic) is not None:
            self.seen.add(topic)

    def close(self) -> None:
        with contextlib.suppress(KeyError):
            self.cluster.remove_listener(self._updated)
        for task in self._checks.values():
            task.cancel()
        self._checks.clear()

    def _updated(self, cluster: Any) -> None:
        """aiokafka's metadata listener: runs in its update, so it must not raise."""
        try:
            for topic in self.topics:
                if cluster.partitions_for_topic(topic) is not None:
                    self.seen.add(topic)
                    self.gone.discard(topic)  # created again
                elif topic in self.gone:
                    self.on_gone(topic)
                elif topic in self.seen and topic not in self._checks:
                    task = asyncio.get_running_loop().create_task(self._check(topic))
                    self._checks[topic] = task
        except Exception:
            log.exception("checking the metadata of %s failed", sorted(self.topics))

    async def _check(self, topic: str) -> None:
        try:
            await self.admin.topic_metadata(topic)  # still there (or being created)
        except TopicNotFound:
            self.gone.add(topic)
            self.on_gone(topic)
        except AnyMQError as exc:  # cannot tell now; the next update asks again
            log.debug("could not check whether %r was deleted: %s", topic, exc)
        finally:
            self._checks.pop(topic, None)
