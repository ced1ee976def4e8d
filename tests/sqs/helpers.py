"""Small helpers shared by the SQS backend tests."""

from __future__ import annotations

import uuid


def with_options(url: str, **options: object) -> str:
    """``url`` with query options added (the fixture URL may already have some)."""
    extra = "&".join(
        f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in options.items()
    )
    if not extra:
        return url
    return f"{url}{'&' if '?' in url else '?'}{extra}"


def unique(label: str, fifo: bool = False) -> str:
    return f"anymq-sqs-{label}-{uuid.uuid4().hex[:8]}" + (".fifo" if fifo else "")
