"""Received messages: lazily built headers, the shared finished awaitable, acks through
the consumer's Delivery to the driver's ack primitive."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence

import pytest

import anymq
from anymq.backend import ConsumerDriver, ConsumerOptions
from anymq.delivery import Delivery
from anymq.features import Capabilities
from anymq.message import DONE, Received
from anymq.model import Position

pytestmark = pytest.mark.anymq


class _Recorder(ConsumerDriver):
    """A driver that records how it was asked to settle (no broker involved)."""

    def __init__(self) -> None:
        self.direct: list[Received] = []

    async def start(self) -> None:
        pass

    async def receive(self, max_messages: int, timeout: float | None) -> list[Received]:
        return []

    def ack(self, message: Received) -> Awaitable[None] | None:
        self.direct.append(message)
        return None  # settled synchronously

    async def ack_many(self, messages: Sequence[Received]) -> None:
        self.direct.extend(messages)

    async def seek(self, position: Position) -> None:
        pass

    async def close(self) -> None:
        pass


def _delivery(driver: ConsumerDriver) -> Delivery:
    return Delivery(driver, ConsumerOptions(topic="t", group="g"), Capabilities(backend="test"))


def _message(delivery: Delivery | None, headers: object = ()) -> Received:
    return Received(b"v", None, headers, "t", 0, 7, None, 1, None, None, delivery)  # type: ignore[arg-type]


def test_header_pairs_become_a_dict_on_first_read() -> None:
    msg = _message(None, [("a", b"1"), ("null", None)])
    headers = msg.headers
    assert headers == {"a": b"1", "null": b""}
    assert msg.headers is headers, "converted once, then the same dict"
    headers["added"] = b"x"
    assert msg.headers["added"] == b"x"
    msg.headers = {"b": b"2"}
    assert msg.headers == {"b": b"2"}
    assert _message(None).headers == {}


def test_a_dict_is_kept_as_given() -> None:
    given = {"a": b"1"}
    assert _message(None, given).headers is given


async def test_done_can_be_awaited_any_number_of_times() -> None:
    for _ in range(3):
        assert await DONE is None


async def test_acks_go_to_the_drivers_primitive_once() -> None:
    driver = _Recorder()
    delivery = _delivery(driver)
    first = _message(delivery)
    await first.ack()
    await first.ack()  # settling twice is a no-op
    assert driver.direct == [first], "ack() calls the driver's ack once"
    assert first.settled
    delivery.close()
    second = _message(delivery)
    with pytest.raises(anymq.ClosedError, match="closed, so the ack was refused"):
        second.ack()
    assert not second.settled
    assert driver.direct == [first]


async def test_ack_without_a_consumer_is_refused() -> None:
    with pytest.raises(anymq.ClosedError, match="not delivered by a consumer"):
        await _message(None).ack()


async def test_ack_many_refuses_a_stranger_before_settling_anything() -> None:
    async with anymq.connect("memory://ack-many-stranger") as broker:
        await broker.create_topic("t")
        async with (
            broker.consumer("t", "a", start="earliest") as first,
            broker.consumer("t", "b", start="earliest") as second,
            broker.producer() as producer,
        ):
            await producer.send("t", b"x")
            [mine] = await first.receive(1, timeout=5)
            [theirs] = await second.receive(1, timeout=5)
            with pytest.raises(anymq.ConfigError, match="not delivered by this consumer"):
                await first.ack_many([mine, theirs])
            assert not mine.settled, "nothing is settled when the batch is refused"
            assert not theirs.settled
            await first.ack_many([mine])
            assert mine.settled
