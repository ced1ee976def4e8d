"""The options of memory://, declared once (anymq.options parses and documents them)."""

from __future__ import annotations

from anymq.options import Bool, Option, Options, Seconds


class MemoryOptions(Options):
    """memory:// takes no producer, consumer or topic options."""

    backend = "memory"

    auto_create_topics = Option(
        Bool(), False, "create a topic (1 partition) on first send or subscribe"
    )
    connect_timeout = Option(
        Seconds(),
        None,
        "accepted (and checked: seconds > 0) so one URL works on every backend; nothing to "
        "wait for",
    )
