"""Checks for numeric arguments of the public API (timeouts, delays, counts).

They live in :mod:`anymq.options` with the option parsers (one strict parser per type);
this module keeps the short import the API modules use (``arguments.seconds(...)``).
"""

from __future__ import annotations

from anymq.options import count, seconds

__all__ = ["count", "seconds"]
