"""What the Kafka backend's producers and consumers share: settings, the admin client and
its metadata cache, and the option defaults given at connect.

The broker driver builds one per connection (its admin client starts with the driver) and
hands it to every producer and consumer; it imports nothing of the drivers, so the plugin's
import graph has no cycle and no producer or consumer reaches into the broker.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from anymq.model import Retention
from anymq_kafka.admin import KafkaAdmin
from anymq_kafka.options import Settings


class KafkaContext:
    """One connection's shared state and the broker calls producers and consumers need."""

    def __init__(self, settings: Settings, defaults: Mapping[str, Any], limit: int) -> None:
        self.settings = settings
        self.defaults = defaults
        """Options given at connect: the defaults of every producer's and consumer's."""
        self.limit = limit
        """The largest message (value + key + headers) in bytes, for error messages."""
        self.admin = KafkaAdmin(settings)

    @property
    def hosts(self) -> str:
        return self.settings.hosts

    async def start(self) -> None:
        await self.admin.start()

    async def close(self) -> None:
        await self.admin.close()

    async def partitions(self, topic: str) -> int:
        """The partition count asked from a broker now (another client may have deleted
        the topic since it was cached); TopicNotFound if missing."""
        return await self.admin.refresh(topic)

    async def require(self, topic: str) -> int:
        """The partition count of an existing topic (cached); TopicNotFound if missing."""
        return await self.admin.require(topic)

    async def ensure_topic(self, name: str, partitions: int) -> int:
        """Create ``name`` (a dead-letter topic) unless this connection knows it exists;
        its partition count once it is usable."""
        if name not in self.admin.partitions:
            await self.admin.create_topic(name, partitions, Retention(), {})
        return await self.admin.require(name)

    async def committed(self, group: str, tps: list[Any]) -> dict[Any, Any]:
        """A group's committed offsets and metadata through the public admin API."""
        return await self.admin.committed(group, tps)
