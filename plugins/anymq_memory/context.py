"""What the memory backend's producers and consumers share: the space and its topics.

The broker driver builds one per connection and hands it to every producer and consumer;
it imports nothing of the drivers, so the plugin's import graph has no cycle.
"""

from __future__ import annotations

from anymq.errors import TopicNotFound
from anymq.model import Retention
from anymq_memory.log import Partition, Space, Topic, space
from anymq_memory.options import MemoryOptions


class MemoryContext:
    """One connection's view of a space: topic look-up (auto-creating where asked) and
    topic creation (also the dead-letter topic's)."""

    def __init__(self, space_name: str, options: MemoryOptions, backend: str = "memory") -> None:
        self.backend = backend
        """The backend's name in errors (a driver reused under another scheme names its own)."""
        self.space_name = space_name
        self.space: Space = space(space_name)
        self.auto_create = options.auto_create_topics

    def topic(self, name: str) -> Topic:
        """The topic; TopicNotFound unless it exists or auto_create_topics creates it."""
        found = self.space.topics.get(name)
        if found is None:
            if not self.auto_create:
                raise TopicNotFound(name, self.backend, "or connect with ?auto_create_topics=true")
            self.create(name, 1, Retention())
            found = self.space.topics[name]
        return found

    def create(self, name: str, partitions: int, retention: Retention) -> bool:
        """Create a topic; False if it already existed."""
        if name in self.space.topics:
            return False
        self.space.topics[name] = Topic(name, [Partition(i) for i in range(partitions)], retention)
        return True
