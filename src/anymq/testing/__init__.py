"""The anymq contract suite: one test per semantic, run by every backend.

Adopt it with a fixtures class (see :class:`ContractSuite`) or run it against any URL:
``pytest --pyargs anymq.testing --anymq-url kafka://127.0.0.1:9092``.

The names below are imported on first use, not with the package: pytest imports the
package first for its plugin (``anymq.testing.plugin``), which registers the suite's
modules for assertion rewriting before they are imported (a failed ``assert`` in them then
shows the values it compared).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from anymq.testing.context import TestContext
    from anymq.testing.decorators import requires
    from anymq.testing.ledger import Ledger
    from anymq.testing.probes import PROBES, assert_unsupported
    from anymq.testing.suite import ContractSuite

__all__ = ["PROBES", "ContractSuite", "Ledger", "TestContext", "assert_unsupported", "requires"]

_HOMES = {
    "PROBES": "probes",
    "ContractSuite": "suite",
    "Ledger": "ledger",
    "TestContext": "context",
    "assert_unsupported": "probes",
    "requires": "decorators",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'anymq.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(f"anymq.testing.{home}"), name)
