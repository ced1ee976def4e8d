"""The contract suite as one class a backend adopts (fsspec-style fixtures class).

    from anymq.testing import ContractSuite

    class TestMyBackend(ContractSuite):
        @pytest.fixture
        def anymq_url(self) -> str:
            return "mybroker://127.0.0.1:1234"

Class attributes tune waiting to the broker (never what is asserted).
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from anymq.testing.context import TestContext
from anymq.testing.report import proof_report, target_of
from anymq.testing.suite_arguments import ArgumentContract
from anymq.testing.suite_basic import BasicContract
from anymq.testing.suite_compression import CompressionContract
from anymq.testing.suite_declare import DeclareContract
from anymq.testing.suite_delivery import DeliveryContract
from anymq.testing.suite_errors import ErrorContract
from anymq.testing.suite_generated import GeneratedInputContract
from anymq.testing.suite_groups import GroupContract
from anymq.testing.suite_headers import HeaderContract
from anymq.testing.suite_lifecycle import LifecycleContract
from anymq.testing.suite_log import LogContract
from anymq.testing.suite_naming import NamingContract
from anymq.testing.suite_options import OptionsContract
from anymq.testing.suite_order import OrderContract
from anymq.testing.suite_partitions import PartitionContract
from anymq.testing.suite_redelivery import RedeliveryContract
from anymq.testing.suite_retry import RetryContract
from anymq.testing.suite_runtime import RuntimeContract
from anymq.testing.suite_secrets import SecretsContract
from anymq.testing.suite_settle import SettleContract
from anymq.testing.suite_topics import TopicContract


class ContractSuite(
    BasicContract,
    ArgumentContract,
    GroupContract,
    DeclareContract,
    DeliveryContract,
    SettleContract,
    RedeliveryContract,
    OrderContract,
    PartitionContract,
    LogContract,
    HeaderContract,
    GeneratedInputContract,
    NamingContract,
    SecretsContract,
    OptionsContract,
    LifecycleContract,
    TopicContract,
    CompressionContract,
    ErrorContract,
    RuntimeContract,
    RetryContract,
):
    """Every semantic of the anymq model, one test each; capabilities decide what is proven."""

    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [pytest.mark.anymq]
    #: Tells the plugin's report which classes are contract suites (report.CONTRACT_MARK).
    anymq_contract_suite: ClassVar[bool] = True

    #: Seconds with no message that count as "nothing more is coming".
    quiet_period: ClassVar[float] = 0.3
    #: Seconds a message may take to arrive before a test fails.
    delivery_timeout: ClassVar[float] = 30.0
    #: Prefix and suffix of the topic names the suite creates (suffix e.g. ".fifo").
    topic_prefix: ClassVar[str] = "anymq-contract"
    topic_suffix: ClassVar[str] = ""
    #: Retention used by the retention tests, and how long trimming may take.
    retention_seconds: ClassVar[float] = 1.0
    retention_bytes: ClassVar[int] = 4096
    retention_timeout: ClassVar[float] = 60.0
    #: Seconds with no new message, after some arrived, that mean the missing ones are lost
    #: (None: ten quiet periods, at least 3 s). A lost message then fails a test this soon
    #: instead of at delivery_timeout; raise it for a broker that pauses mid-stream.
    loss_grace: ClassVar[float | None] = None

    @pytest.fixture
    def ctx(self, anymq_url: str, request: pytest.FixtureRequest) -> TestContext:
        settings: dict[str, Any] = {
            "quiet_period": self.quiet_period,
            "delivery_timeout": self.delivery_timeout,
            "topic_prefix": self.topic_prefix,
            "topic_suffix": self.topic_suffix,
            "retention_seconds": self.retention_seconds,
            "retention_bytes": self.retention_bytes,
            "retention_timeout": self.retention_timeout,
            "loss_grace": self.loss_grace,
        }
        node = request.node

        def record(key: str, value: object) -> None:
            node.user_properties.append((key, value))

        ctx = TestContext(anymq_url, test_name=node.name, settings=settings, record=record)
        report = proof_report(request.config)
        if report is not None:
            report.note_target(node, target_of(ctx.backend, ctx.url_shown, ctx.capabilities))
        return ctx
