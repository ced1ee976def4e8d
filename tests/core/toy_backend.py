"""A stand-in third-party driver for the plugin tests: the memory log under another name."""

from __future__ import annotations

import dataclasses

from anymq_memory.driver import CAPABILITIES, MemoryBroker


class ToyBroker(MemoryBroker):
    name = "toy"
    capabilities = dataclasses.replace(CAPABILITIES, backend="toy")
