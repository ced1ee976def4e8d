"""The options of sqlite://, declared once; this module imports no client library."""

from __future__ import annotations

from anymq.options import Bool, Option, Options, Seconds


class SqliteOptions(Options):
    backend = "sqlite"

    connect_timeout = Option(
        Seconds(), 5.0, "seconds to wait for another connection's write lock (busy timeout)"
    )
    fsync = Option(
        Bool(),
        False,
        "PRAGMA synchronous=FULL: a confirmed send survives a power loss, not only a crash",
    )
    poll_interval = Option(
        Seconds(),
        0.05,
        "seconds between looks for messages written by other processes (this one wakes "
        "its consumers at once)",
        scopes=("connect", "consumer"),
    )
    visibility_timeout = Option(
        Seconds(),
        30.0,
        "seconds a received, unsettled message stays with its consumer before the group gets "
        "it again (what frees the messages of a consumer that died without closing)",
        scopes=("connect", "consumer"),
    )
