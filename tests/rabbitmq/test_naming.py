"""RabbitMQ object names: injective for every (topic, group) pair, unchanged for plain names,
within RabbitMQ's 255-byte limit and never in the reserved ``amq.`` namespace.

Pure functions: no server needed (these run in the ``-m memory`` loop).
"""

from __future__ import annotations

import itertools
import re

from anymq_rabbitmq.driver import NAME_RULE
from anymq_rabbitmq.naming import MAX_QUEUE_NAME, Names


def _derived(topic: str, group: str) -> list[str]:
    return [
        Names.group_queue(topic, group),
        Names.offsets(topic, group),
        Names.control(topic, group),
        Names.pump_lock(topic, group),
    ]


def test_plain_names_keep_the_spring_convention() -> None:
    # Existing durable group queues must be found again after an upgrade.
    assert Names.group_queue("orders", "billing") == "orders.billing"
    assert Names.group_queue("com.acme.orders", "billing") == "com.acme.orders.billing"
    assert Names.group_queue("orders.DLT", "billing") == "orders.DLT.billing"
    assert Names.group_queue("a:b_c-d", "e:f_g-h") == "a:b_c-d.e:f_g-h"
    assert Names.stream("orders") == "orders/stream"
    assert Names.offsets("orders", "billing") == "orders/billing/offset"
    assert Names.control("orders", "billing") == "orders/billing/control"
    assert Names.pump_lock("orders", "billing") == "orders/billing/pump"


def test_names_are_valid_for_the_amqp_client() -> None:
    # pamqp refuses queue names outside this set before anything is sent.
    from pamqp.constants import DOMAIN_REGEX

    for topic, group in [("X", "orders.billing"), ("t" * 200, "g" * 200), ("amq", "x@y.z")]:
        for name in _derived(topic, group):
            assert DOMAIN_REGEX["queue-name"].fullmatch(name), name


def test_the_colliding_pair_of_issue_11_gets_two_queues() -> None:
    assert Names.group_queue("X", "orders.billing") != Names.group_queue("X.orders", "billing")
    assert Names.group_queue("X", "orders.billing") == "X.orders@2Ebilling"


def test_group_queue_names_are_injective_on_tricky_names() -> None:
    # Every topic/group over an alphabet of the separator, the escape character and the
    # characters of an escape sequence: no two pairs share a name.
    alphabet = ("a", ".", "@", "2", "E", "#")
    words = [
        "".join(chars) for n in range(1, 4) for chars in itertools.product(alphabet, repeat=n)
    ]
    seen: dict[str, tuple[str, str]] = {}
    for topic in words:
        for group in words:
            name = Names.group_queue(topic, group)
            assert seen.setdefault(name, (topic, group)) == (topic, group), name
    assert len(seen) == len(words) ** 2


def test_long_names_are_shortened_distinctly_and_readably() -> None:
    topic = "t" * 200
    groups = ["g" * 199 + last for last in "abc"] + ["g." * 100]
    names = [Names.group_queue(topic, group) for group in groups]
    assert len(set(names)) == len(names)
    for name in names:
        assert len(name.encode()) <= MAX_QUEUE_NAME
        assert name.startswith(topic)
    assert names == [Names.group_queue(topic, group) for group in groups], "not deterministic"
    # The other per-group objects of stream mode are shortened the same way.
    objects = [n for group in groups for n in _derived(topic, group)]
    assert len(set(objects)) == len(objects)
    assert all(len(n.encode()) <= MAX_QUEUE_NAME for n in objects)
    # A name exactly at the limit is kept as it is.
    fits = "t" * (MAX_QUEUE_NAME - 2)
    assert Names.group_queue(fits, "g") == f"{fits}.g"
    assert Names.group_queue(fits + "t", "g") != f"{fits}t.g"


def test_shortened_names_never_equal_a_plain_one() -> None:
    topic = "t" * 200
    shortened = Names.group_queue(topic, "g" * 100)
    # Splitting a shortened name at its last '.' gives a topic and a group that map to
    # another name: the marker '#' is escaped in groups and not allowed in topics.
    assert "#" in shortened
    head, _, tail = shortened.rpartition(".")
    assert Names.group_queue(head, tail) != shortened
    assert not re.fullmatch(NAME_RULE.pattern, shortened)


def test_no_name_lands_in_the_reserved_amq_namespace() -> None:
    # Topic "amq" is a valid name (only "amq." is reserved), but "amq.<group>" is refused.
    for group in ("billing", "x.y", "g" * 200):
        for name in _derived("amq", group):
            assert not name.startswith("amq."), name
            assert len(name.encode()) <= MAX_QUEUE_NAME
    assert Names.group_queue("amq", "billing") != Names.group_queue("amq", "billing2")
