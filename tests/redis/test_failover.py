"""Consumer failover with a real crash on Redis Streams: a group member in another OS process
is SIGKILLed mid-stream. Its heartbeat and partition leases run out after
``member_timeout``; the survivor takes its partitions and XCLAIMs what it held unacked.
Nothing is lost and nothing it acked comes back (key order across a kill is the contract
suite's test_key_order_holds_when_a_member_is_killed). Measured: the handover, from the
kill to the survivor's first copy of the last held message (tests/failover.py)."""

from __future__ import annotations

import uuid

import pytest

from tests.failover import kill_a_partitioned_member

pytestmark = [pytest.mark.redis, pytest.mark.anymq, pytest.mark.slow]

MEMBER_TIMEOUT = 2


async def test_sigkilled_member_hands_its_partitions_and_messages_to_the_survivor(
    redis_url: str,
) -> None:
    url = f"{redis_url}{'&' if '?' in redis_url else '?'}member_timeout={MEMBER_TIMEOUT}"
    handover = await kill_a_partitioned_member(url, f"anymq-redis-kill-{uuid.uuid4().hex[:8]}")
    print(
        f"\nRedis SIGKILL failover: child acked {len(handover.acked)}, held "
        f"{len(handover.held)}; the held ones reached the survivor {handover.seconds:.1f}s "
        f"after the kill (member_timeout {MEMBER_TIMEOUT}s); {handover.ledger.summary()}"
    )
    handover.assert_handed_over(within=MEMBER_TIMEOUT + 5)
