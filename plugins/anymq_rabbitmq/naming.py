"""Names of the RabbitMQ objects behind topics and groups, derived in one place.

A topic is an exchange named like the topic. A group's queue is ``<topic>.<group>``
(Spring Cloud Stream's convention), but topic and group names may both contain ``.``, so
joined as they are ``X`` + ``orders.billing`` and ``X.orders`` + ``billing`` would share a
queue. The group part is therefore escaped, percent-style with ``@`` (the AMQP client
refuses ``%`` in queue names): ``@`` becomes ``@40``, ``.`` ``@2E`` and ``#`` ``@23``. The
escaped group has no ``.``, so the last ``.`` of a name splits it back into topic and group:
the mapping is injective, and queues of groups without those characters (nearly all, also
on dotted topics and dead-letter topics such as ``orders.DLT.billing``) keep the name they
always had, so durable queues created by earlier versions are found again.

anymq's own bookkeeping objects contain a ``/``, which topic and group names cannot, so they
never clash with a topic's objects. A partitioned topic's partition ``p`` is the exchange
``<topic>/p<p>`` and a group's queue for it ``<group queue>/<p>``: cutting at the last ``/``
gives back the group queue's name, so these stay as injective as it is.

RabbitMQ limits queue names to 255 bytes and reserves the ``amq.`` prefix: a name that
breaks either rule becomes a readable prefix, ``#`` (which neither names nor escaped groups
contain) and a hash of the whole name.
"""

from __future__ import annotations

import hashlib

MAX_QUEUE_NAME = 255
"""RabbitMQ's limit for queue (and exchange) names, in UTF-8 bytes."""
HASH_CHARS = 32
SHORTENED = "#"
RESERVED = "amq."


def escape(part: str) -> str:
    """``part`` with ``@``, ``.`` and ``#`` escaped: the result contains no ``.`` or ``#``."""
    return part.replace("@", "@40").replace(".", "@2E").replace("#", "@23")


def fit(name: str) -> str:
    """``name`` if RabbitMQ accepts it as a queue name, else a prefix of it plus a hash."""
    raw = name.encode()
    if len(raw) <= MAX_QUEUE_NAME and not name.startswith(RESERVED):
        return name
    digest = hashlib.sha256(raw).hexdigest()[:HASH_CHARS]
    readable = raw[: MAX_QUEUE_NAME - len(SHORTENED) - HASH_CHARS].decode(errors="ignore")
    if readable.startswith(RESERVED):
        readable = "amq_" + readable[len(RESERVED) :]
    return f"{readable}{SHORTENED}{digest}"


class Names:
    """Names of the RabbitMQ objects behind topics and groups."""

    REGISTRY = "anymq/registry"
    REGISTRY_LOCK = "anymq/registry.lock"

    @staticmethod
    def group_queue(topic: str, group: str) -> str:
        """A group's queue (classic mode) or work queue (stream mode)."""
        return fit(f"{topic}.{escape(group)}")

    @staticmethod
    def partition_exchange(topic: str, partition: int) -> str:
        """The exchange of one partition of a partitioned topic."""
        return fit(f"{topic}/p{partition}")

    @staticmethod
    def partition_queue(group_queue: str, partition: int) -> str:
        """A group's queue for one partition, derived from its (recorded) group queue."""
        return fit(f"{group_queue}/{partition}")

    @staticmethod
    def roster(topic: str, group: str) -> str:
        """The fanout exchange a partitioned group's members announce themselves on."""
        return fit(f"{topic}/{group}/roster")

    @staticmethod
    def stream(topic: str, partition: int | None = None) -> str:
        """A stream-mode topic's stream (one per partition on a partitioned topic)."""
        return fit(f"{topic}/stream" if partition is None else f"{topic}/stream/{partition}")

    @staticmethod
    def _of_group(topic: str, group: str, partition: int | None, what: str) -> str:
        if partition is None:
            return fit(f"{topic}/{group}/{what}")
        return fit(f"{topic}/{group}/{partition}/{what}")

    @classmethod
    def offsets(cls, topic: str, group: str, partition: int | None = None) -> str:
        return cls._of_group(topic, group, partition, "offset")

    @classmethod
    def pump_lock(cls, topic: str, group: str, partition: int | None = None) -> str:
        return cls._of_group(topic, group, partition, "pump")

    @classmethod
    def control(cls, topic: str, group: str, partition: int | None = None) -> str:
        return cls._of_group(topic, group, partition, "control")

    @classmethod
    def group_objects(cls, topic: str, group: str, mode: str, partitions: int = 1) -> list[str]:
        """Every queue anymq may have created for a group (deleted with the topic): its
        queue, or one per partition derived from it, plus stream mode's bookkeeping."""
        queue = cls.group_queue(topic, group)
        if partitions == 1:
            names = [queue]
            if mode == "stream":
                names += [cls.offsets(topic, group), cls.control(topic, group)]
            return names
        names = [cls.partition_queue(queue, p) for p in range(partitions)]
        if mode == "stream":
            for p in range(partitions):
                names += [cls.offsets(topic, group, p), cls.control(topic, group, p)]
        return names
