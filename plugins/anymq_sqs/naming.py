"""Names: the topic rule, deterministic queue names, dead-letter topics and message groups.

SNS topic and SQS queue names share one rule (1 to 80 characters from ``A-Za-z0-9_-``,
FIFO names end in ``.fifo`` within the 80). A group's queue name must be the same in every
process, so it is derived from topic and group alone: a readable prefix plus a hash of the
pair (the hash also keeps ``a-b``/``c`` and ``a``/``b-c`` apart, which a separator cannot).
"""

from __future__ import annotations

import hashlib
import re

from anymq.errors import InvalidTopicName
from anymq.features import NameRule

FIFO_SUFFIX = ".fifo"
MAX_NAME = 80
HASH_CHARS = 10

#: Topic and group names: 80 characters, FIFO names end in .fifo (within the 80).
NAME_RULE = NameRule(
    r"(?=.{1,80}\Z)[A-Za-z0-9_-]+(?:\.fifo)?",
    "1 to 80 characters from A-Z a-z 0-9 _ - (FIFO topics end in '.fifo', within the 80)",
)

_DLT_SUFFIX = "-DLT"


def is_fifo(name: str) -> bool:
    return name.endswith(FIFO_SUFFIX)


def base_name(name: str) -> str:
    """The name without its .fifo suffix."""
    return name[: -len(FIFO_SUFFIX)] if is_fifo(name) else name


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:HASH_CHARS]


def _readable(*parts: str) -> str:
    return "-".join(re.sub(r"[^A-Za-z0-9_-]", "", base_name(p)) for p in parts)


def queue_name(topic: str, role: str, label: str = "") -> str:
    """The SQS queue of ``topic`` for a role (``group``, ``tmp``, ``dlq``) and label.

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
    """What every queue name of ``topic`` starts with (for ListQueues)."""
    return (_readable(topic) + "-")[: _room(topic)]


def dead_letter_topic(topic: str) -> str:
    """``<topic>-DLT`` (``<base>-DLT.fifo`` for FIFO): SQS/SNS names cannot contain '.'."""
    suffix = FIFO_SUFFIX if is_fifo(topic) else ""
    base = base_name(topic)
    room = MAX_NAME - len(suffix) - len(_DLT_SUFFIX)
    if len(base) > room:
        base = f"{base[: room - HASH_CHARS - 1]}-{_digest('dlt', topic)}"
    return f"{base}{_DLT_SUFFIX}{suffix}"


def check_topic(name: str, *, fifo_only: bool) -> str:
    """Refuse names the service would refuse, before any request."""
    NAME_RULE.check(name)
    if fifo_only and not is_fifo(name):
        raise InvalidTopicName(
            name, "this connection is in FIFO mode (?fifo=true): topic names must end in '.fifo'"
        )
    return name


_GROUP_ID = re.compile(r"[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}")


def message_group_id(key: bytes) -> str:
    """FIFO MessageGroupId of a key: the key itself when it is allowed, else a hash."""
    try:
        text = key.decode("ascii")
    except UnicodeDecodeError:
        text = ""
    if text and _GROUP_ID.fullmatch(text) and not text.startswith("anymq#"):
        return text
    return "anymq#" + hashlib.sha256(key).hexdigest()
