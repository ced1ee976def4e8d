"""Lanes alone: one message per key in progress, keys in order, keyless ones independent."""

from __future__ import annotations

from anymq.message import Received
from anymq.runtime.lanes import Lanes


def msg(key: bytes | None, n: int) -> Received:
    return Received(b"%d" % n, key, {}, "t", 0, n, None, 1)


def test_a_key_waits_for_its_previous_message() -> None:
    lanes = Lanes()
    a1, a2, b1, a3 = msg(b"a", 1), msg(b"a", 2), msg(b"b", 3), msg(b"a", 4)
    for m in (a1, a2, b1, a3):
        lanes.add(m)
    assert lanes.waiting == 4
    assert lanes.take() is a1
    assert lanes.take() is b1  # a2 waits behind a1, b passes it
    assert lanes.take() is None
    assert lanes.waiting == 2
    lanes.done(b1)
    assert lanes.take() is None
    lanes.done(a1)
    assert lanes.take() is a2
    lanes.done(a2)
    assert lanes.take() is a3
    lanes.done(a3)
    assert lanes.take() is None
    assert lanes.waiting == 0
    assert lanes.busy_keys() == 0


def test_keyless_messages_start_without_waiting_for_each_other() -> None:
    lanes = Lanes()
    ms = [msg(None, i) for i in range(5)]
    for m in ms:
        lanes.add(m)
    assert [lanes.take() for _ in ms] == ms
    assert lanes.busy_keys() == 0


def test_a_batch_is_added_as_its_messages_one_by_one() -> None:
    batch = [msg(b"a", 1), msg(None, 2), msg(b"a", 3), msg(b"b", 4), msg(None, 5)]
    one, many = Lanes(), Lanes()
    for m in batch:
        one.add(m)
    many.extend(batch)
    assert many.waiting == one.waiting == 5
    assert list(many.ready) == list(one.ready) == [batch[0], batch[1], batch[3], batch[4]]
    assert [many.take() for _ in range(4)] == [batch[0], batch[1], batch[3], batch[4]]
    assert many.take() is None  # a's second message waits behind its first
    many.done(batch[0])
    assert many.take() is batch[2]
