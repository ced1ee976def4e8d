"""Which of aiokafka's private internals the consumer may use, checked before each use.

The fast path reaches into aiokafka: its fetcher builds anymq messages directly
(:mod:`anymq_kafka.fetch`), and its group coordinator is asked for the committed offsets
*with their metadata* (where anymq keeps acks beyond the commit frontier) and polled for join
errors. ``fast_fetch=false`` turns all of that off; so does an installed aiokafka whose
internals are not the shape expected, with one warning per process. The public path then
copies ConsumerRecords, reads the committed metadata through the public admin client
(``list_consumer_group_offsets``) and leaves join errors to the join timeout: same
behaviour, somewhat slower, and no dependency on aiokafka's private API.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("anymq_kafka")

#: The coordinator methods the fast path calls.
COORDINATOR_CALLS = ("fetch_committed_offsets", "check_errors")

_warned: set[str] = set()
"""What was warned about; anything in it silences later warnings (one per process)."""


def coordinator(client: Any) -> Any | None:
    """``client``'s group coordinator if it has what the fast path calls, else None."""
    found = getattr(client, "_coordinator", None)
    if found is None or not all(callable(getattr(found, n, None)) for n in COORDINATOR_CALLS):
        return None
    return found


def warn_once(what: str) -> None:
    """Log once per process that the installed aiokafka forced the public path (``what``:
    "fetcher is", "group coordinator is", "fetcher and group coordinator are")."""
    if _warned:
        return
    _warned.add(what)
    import aiokafka  # type: ignore[import-untyped]

    log.warning(
        "aiokafka %s: its %s not the shape anymq expects, so Kafka consumers use the "
        "public aiokafka API (as with fast_fetch=false): same behaviour, slower consuming",
        getattr(aiokafka, "__version__", "?"),
        what,
    )
