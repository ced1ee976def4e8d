"""The application runtime: handlers on a broker, with per-key ordered concurrency.

See docs/service.md. :class:`App` registers ``async`` handlers and runs them; the ack table
is :class:`SettlePolicy`.
"""

from anymq.runtime.app import App
from anymq.runtime.health import HandlerHealth, Health
from anymq.runtime.retry import UNLIMITED, Backoff, ErrorAction
from anymq.runtime.settle import Outcome, SettlePolicy

__all__ = [
    "UNLIMITED",
    "App",
    "Backoff",
    "ErrorAction",
    "HandlerHealth",
    "Health",
    "Outcome",
    "SettlePolicy",
]
