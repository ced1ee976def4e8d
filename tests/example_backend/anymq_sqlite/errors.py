"""sqlite3 exceptions -> anymq errors, in one place (``raise ... from exc``).

    sqlite3                                             anymq
    OperationalError "locked" / "busy"                  PublishError (retriable) when sending,
                                                        else BrokerError (retriable): the
                                                        write lock was not had in time
    OperationalError "unable to open", "disk I/O",      BrokerUnavailable: the file cannot be
    "readonly"                                          used where the URL points
    DatabaseError "not a database", "malformed",        ConfigError: the URL names a file that
    "no such table"                                     is not an anymq database
    anything else                                       PublishError when sending, else
                                                        BrokerError

A failed write is rolled back before the error is raised, so nothing half-sent stays.
"""

from __future__ import annotations

import sqlite3

from anymq.errors import (
    AnyMQError,
    BrokerError,
    BrokerUnavailable,
    ConfigError,
    PublishError,
)

BUSY = ("locked", "busy")
UNAVAILABLE = ("unable to open", "disk i/o", "readonly", "read-only")
NOT_OURS = ("not a database", "malformed", "no such table", "no such column")


def mapped(exc: sqlite3.Error, path: str, *, sending: bool = False) -> AnyMQError:
    """The anymq error for ``exc`` raised while using the database at ``path``."""
    text = str(exc).lower()
    where = f"sqlite database {path!r}"
    if any(word in text for word in BUSY):
        message = f"{where} stayed locked by another writer: {exc}; nothing was written"
        if sending:
            return PublishError(message, retriable=True)
        return BrokerError(message, retriable=True)
    if any(word in text for word in UNAVAILABLE):
        return BrokerUnavailable(f"cannot use {where}: {exc}; check the path and permissions")
    if any(word in text for word in NOT_OURS):
        return ConfigError(
            f"{where} is not an anymq sqlite database ({exc}); point the URL at a new file"
        )
    if sending:
        return PublishError(f"{where} refused the message: {exc}")
    return BrokerError(f"{where} failed: {exc}")
