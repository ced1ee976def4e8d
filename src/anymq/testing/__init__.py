"""The anymq contract suite: one test per semantic, run by every backend.

Adopt it with a fixtures class (see :class:`ContractSuite`) or run it against any URL:
``pytest --pyargs anymq.testing --anymq-url kafka://127.0.0.1:9092``.
"""

from anymq.testing.context import TestContext
from anymq.testing.decorators import requires
from anymq.testing.ledger import Ledger
from anymq.testing.probes import PROBES, assert_unsupported
from anymq.testing.suite import ContractSuite

__all__ = ["PROBES", "ContractSuite", "Ledger", "TestContext", "assert_unsupported", "requires"]
