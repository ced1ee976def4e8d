"""anymq.testing.keylog: each rule the partition contract tests rely on fails when broken."""

from __future__ import annotations

import pytest

from anymq.testing.keylog import Delivery, KeyLog

K = b"k"


def log_of(*events: tuple[str, int, int, bool], sent: int = 3) -> KeyLog:
    """Events as (member, seq, delivery_count, is_ack) on one key."""
    log = KeyLog()
    for _ in range(sent):
        log.expect(K)
    log.events = [Delivery(m, K, seq, 0, count, ack) for m, seq, count, ack in events]
    return log


def got(member: str, seq: int, count: int = 1) -> tuple[str, int, int, bool]:
    return (member, seq, count, False)


def ack(member: str, seq: int) -> tuple[str, int, int, bool]:
    return (member, seq, 1, True)


def test_a_clean_handover_passes() -> None:
    # a holds #1 when the partition moves; b gets #1 again (marked) before #2
    log = log_of(got("a", 0), ack("a", 0), got("a", 1), got("b", 1, 2), got("b", 2))
    log.assert_in_order()
    assert log.duplicates == 1


def test_a_missing_message_fails() -> None:
    with pytest.raises(AssertionError, match="lost"):
        log_of(got("a", 0), got("a", 2)).assert_in_order()


def test_a_gone_members_delivery_does_not_count_unless_it_acked() -> None:
    log = log_of(got("a", 0), got("b", 1), got("b", 2))
    log.gone.add("a")
    assert log.missing() == [(K, 0)]
    log.settled_elsewhere = {(K, 0)}
    assert log.missing() == []


def test_a_later_message_overtaking_fails() -> None:
    with pytest.raises(AssertionError, match="overtook"):
        log_of(got("a", 1), got("a", 0), got("a", 2)).assert_in_order()


def test_a_key_taken_while_another_member_holds_an_earlier_one_fails() -> None:
    with pytest.raises(AssertionError, match=r"b got b'k' #2 while \['a'\] held #1"):
        log_of(got("a", 0), got("a", 1), got("b", 2), ack("a", 1)).assert_in_order()


def test_an_unmarked_duplicate_to_the_same_member_fails() -> None:
    log = log_of(got("a", 0), got("a", 1), got("a", 1), got("a", 2))
    with pytest.raises(AssertionError, match="without a redelivery mark"):
        log.assert_in_order()
    marked = log_of(got("a", 0), got("a", 1), got("a", 1, 2), got("a", 2))
    marked.assert_in_order()
