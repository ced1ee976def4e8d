"""Contract: a refused ack or nack settles nothing, so retrying it still fails loudly.

Settling twice is a no-op by design (``finally: await msg.ack()``), so a message wrongly
marked settled by a refused call turns every retry into a silent no-op: the caller would
believe the ack went through while the broker redelivers the message.
"""

from __future__ import annotations

import pytest

import anymq
from anymq.testing.context import TestContext
from anymq.testing.ledger import assert_count, assert_received


class SettleContract:
    """ack_many, ack and nack after close raise ClosedError every time and settle nothing."""

    async def test_refused_acks_after_close_settle_nothing(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            group = ctx.group()
            async with broker.consumer(topic, group) as consumer:
                async with broker.producer() as producer:
                    for value in (b"one", b"two"):
                        await producer.send(topic, value)
                got = await ctx.collect(consumer, 2, ack=False)
                assert_count(f"group {group!r}", 2, got)
            for attempt in (1, 2):
                with pytest.raises(anymq.ClosedError):
                    await consumer.ack_many(got)
                assert not any(m.settled for m in got), f"refused ack_many #{attempt} settled"
                with pytest.raises(anymq.ClosedError):
                    await got[0].ack()
                assert not got[0].settled, f"refused ack #{attempt} settled the message"
                with pytest.raises(anymq.ClosedError):
                    await got[1].nack()
                assert not got[1].settled, f"refused nack #{attempt} settled the message"
            async with broker.consumer(topic, group) as again:
                redelivered = await ctx.collect(again, 2, ack=False)
                assert_received(
                    f"group {group!r} (after the refused acks)",
                    [b"one", b"two"],
                    [m.value for m in redelivered],
                )
                await again.ack_many(redelivered)
                assert all(m.settled for m in redelivered), "ack_many left messages unsettled"
                back = await ctx.quiet_receive(again)
                assert back == [], f"acked messages came back: {[m.value for m in back]}"
