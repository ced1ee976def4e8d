"""Lets ``pytest --pyargs anymq.testing --anymq-url URL`` run the suite against any broker."""

from anymq.testing.suite import ContractSuite


class TestContract(ContractSuite):
    """The whole contract suite against --anymq-url / $ANYMQ_URL (memory:// by default)."""
