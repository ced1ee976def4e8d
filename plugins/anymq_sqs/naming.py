"""Names: the topic rule, topic → SNS/SQS resource names, queue names, message groups.

A user's topic name is the same as on every other backend: ``orders``. Which SNS topic (or,
in ``mode=queue``, SQS queue) backs it depends on its kind: a standard topic is ``orders``,
a FIFO one (partitioned, or made on a ``?fifo=true`` URL) is ``orders.fifo``. The suffix is
the service's rule for FIFO resources, never part of the user's name, so names end at 75
characters (80 with the suffix) and may not end in ``.fifo`` themselves.

A group's queue name must be the same in every process, so it is derived from the topic's
resource name and the group alone: a readable prefix plus a hash of the pair (the hash also
keeps ``a-b``/``c`` and ``a``/``b-c`` apart, which a separator cannot).
"""

from __future__ import annotations

import hashlib
import re

from anymq.features import NameRule

FIFO_SUFFIX = ".fifo"
MAX_NAME = 80
"""SNS topic and SQS queue names: at most 80 characters, the .fifo suffix included."""
MAX_TOPIC = MAX_NAME - len(FIFO_SUFFIX)
"""A user's topic name, so that it fits as a FIFO resource too."""
HASH_CHARS = 10

#: Topic and group names: the same on a standard and a ?fifo=true URL.
NAME_RULE = NameRule(
    rf"[A-Za-z0-9_-]{{1,{MAX_TOPIC}}}",
    f"1 to {MAX_TOPIC} characters from A-Z a-z 0-9 _ - (no '.fifo': anymq adds that suffix "
    "to the SNS topic and queues of a FIFO topic itself)",
)

_DLT_SUFFIX = "-DLT"


def is_fifo(name: str) -> bool:
    """Whether a *resource* name (SNS topic, SQS queue) is a FIFO one."""
    return name.endswith(FIFO_SUFFIX)


def resource(topic: str, fifo: bool) -> str:
    """The SNS topic (or mode=queue SQS queue) name of a user's topic of this kind."""
    return topic + FIFO_SUFFIX if fifo else topic


def user_name(resource_name: str) -> str:
    """The user's topic name of a resource name: without its .fifo suffix."""
    return resource_name[: -len(FIFO_SUFFIX)] if is_fifo(resource_name) else resource_name


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:HASH_CHARS]


def _readable(*parts: str) -> str:
    return "-".join(re.sub(r"[^A-Za-z0-9_-]", "", user_name(p)) for p in parts)


def queue_name(topic: str, role: str, label: str = "") -> str:
    """The SQS queue of resource ``topic`` for a role (``group``, ``tmp``, ``dlq``) and label.

    ``<topic>-<label>`` cut to fit, then ``-<hash of role, topic, label>``; FIFO topics get
    FIFO queues. Any process computes the same name, so a group finds its queue again.
    """
    suffix = FIFO_SUFFIX if is_fifo(topic) else ""
    readable = _readable(topic, label) if label else _readable(topic)
    return f"{readable[: _room(topic)]}-{_digest(role, topic, label)}{suffix}"


def _room(topic: str) -> int:
    suffix = FIFO_SUFFIX if is_fifo(topic) else ""
    return MAX_NAME - len(suffix) - 1 - HASH_CHARS


def queue_prefix(topic: str) -> str:
    """What every queue name of resource ``topic`` starts with (for ListQueues)."""
    return (_readable(topic) + "-")[: _room(topic)]


def dead_letter_topic(topic: str) -> str:
    """``<topic>-DLT`` (a user name: SQS/SNS names cannot contain '.'), hash-shortened to
    fit the name rule; it gets the kind of its topic (FIFO redrives only to FIFO)."""
    base = user_name(topic)
    room = MAX_TOPIC - len(_DLT_SUFFIX)
    if len(base) > room:
        base = f"{base[: room - HASH_CHARS - 1]}-{_digest('dlt', topic)}"
    return f"{base}{_DLT_SUFFIX}"


def check_topic(name: str) -> str:
    """Refuse names the service would refuse, before any request."""
    return NAME_RULE.check(name)


def partition_group(partition: int) -> str:
    """The MessageGroupId of a partition of a partitioned topic: SQS FIFO hands one message
    group to one consumer at a time, so a partition is consumed in order, by one member."""
    return str(partition)


def partition_of(group_id: str | None, partitions: int) -> int | None:
    """The partition a received message's MessageGroupId names (None: not one of ours)."""
    if partitions == 1:
        return 0
    if group_id is None or not group_id.isdigit():
        return None
    partition = int(group_id)
    return partition if partition < partitions else None


_GROUP_ID = re.compile(r"[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}")


def message_group_id(key: bytes) -> str:
    """FIFO MessageGroupId of a key on a one-partition FIFO topic: the key itself when it
    is allowed, else a hash."""
    try:
        text = key.decode("ascii")
    except UnicodeDecodeError:
        text = ""
    if text and _GROUP_ID.fullmatch(text) and not text.startswith("anymq#"):
        return text
    return "anymq#" + hashlib.sha256(key).hexdigest()
