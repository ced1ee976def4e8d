"""The contract suite on a real Redis server (see tests/brokers.py for where it runs)."""

from __future__ import annotations

import pytest

from anymq.testing import ContractSuite

pytestmark = pytest.mark.redis


class TestRedisContract(ContractSuite):
    # Waiting knobs only. Members move partitions between reads (at most every 0.5 s), a
    # killed member's partitions move after member_timeout (3 s here, 10 s by default).
    quiet_period = 0.3
    delivery_timeout = 20.0
    retention_seconds = 1.0
    retention_timeout = 20.0

    @pytest.fixture
    def anymq_url(self, redis_url: str) -> str:
        return f"{redis_url}{'&' if '?' in redis_url else '?'}member_timeout=3"

    @pytest.fixture
    def checks_credentials(self) -> bool:
        # compose/redis.sh sets no password, and Redis refuses an AUTH then too
        return True
