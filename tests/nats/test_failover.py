"""Consumer failover with a real crash on NATS JetStream: a group member in another OS process
is SIGKILLed mid-stream. Its partition leases in the group's KV bucket run out after
``ack_wait`` + 2 s; the survivor takes its partitions, and JetStream redelivers what the dead
member held unacked once its ``ack_wait`` passed. Nothing is lost and nothing it acked comes
back (key order across a kill is the contract suite's
test_key_order_holds_when_a_member_is_killed). Measured: the handover, from the kill to the
survivor's first copy of the last held message (tests/failover.py)."""

from __future__ import annotations

import uuid

import pytest

from tests.failover import kill_a_partitioned_member

pytestmark = [pytest.mark.nats, pytest.mark.anymq, pytest.mark.slow]

ACK_WAIT = 2


async def test_sigkilled_member_hands_its_partitions_and_messages_to_the_survivor(
    nats_url: str,
) -> None:
    url = f"{nats_url}{'&' if '?' in nats_url else '?'}ack_wait={ACK_WAIT}"
    handover = await kill_a_partitioned_member(url, f"anymq-nats-kill-{uuid.uuid4().hex[:8]}")
    print(
        f"\nNATS SIGKILL failover: child acked {len(handover.acked)}, held "
        f"{len(handover.held)}; the held ones reached the survivor {handover.seconds:.1f}s "
        f"after the kill (ack_wait {ACK_WAIT}s); {handover.ledger.summary()}"
    )
    handover.assert_handed_over(within=ACK_WAIT + 2 + 5)
