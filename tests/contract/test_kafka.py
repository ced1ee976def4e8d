"""The contract suite on a real Apache Kafka broker (see tests/brokers.py for where it runs)."""

from __future__ import annotations

import pytest

from anymq.testing import ContractSuite

pytestmark = pytest.mark.kafka


class TestKafkaContract(ContractSuite):
    # Waiting knobs only: a real broker needs longer quiet periods than memory://, group
    # joins and rebalances take a few heartbeats, and retention runs on the broker's
    # log.retention.check.interval.ms (1 s on compose/kafka.sh's test broker).
    quiet_period = 0.5
    delivery_timeout = 30.0
    retention_seconds = 1.0
    retention_bytes = 4096
    retention_timeout = 60.0

    @pytest.fixture
    def anymq_url(self, kafka_url: str) -> str:
        return kafka_url

    @pytest.fixture
    def checks_credentials(self) -> bool:
        # The test broker (compose/kafka.sh) has a PLAINTEXT listener only: no SASL, so no
        # password to get wrong. aiokafka's SASL failures are mapped in tests/kafka/test_errors.py.
        return False

    @pytest.fixture
    def stalled_broker(self) -> None:
        # A proxy would only see the bootstrap: the metadata answer sends the clients to the
        # advertised listener past it. The error map's KafkaTimeoutError ->
        # DeliveryUncertain is tested with aiokafka's exceptions (tests/kafka/test_errors.py).
        return None
