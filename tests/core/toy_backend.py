"""A stand-in third-party driver for the plugin tests: the memory log under another name."""

from __future__ import annotations

import dataclasses

from anymq.options import Option, Text
from anymq_memory.driver import CAPABILITIES, MemoryBroker
from anymq_memory.options import MemoryOptions


class ToyBroker(MemoryBroker):
    name = "toy"
    capabilities = dataclasses.replace(CAPABILITIES, backend="toy")


class SecretToyOptions(MemoryOptions):
    """The memory options plus a secret whose name does not look like one."""

    backend = "secrettoy"
    api_key = Option(Text(), None, "a credential named like none", secret=True)


class SecretToyBroker(MemoryBroker):
    name = "secrettoy"
    capabilities = dataclasses.replace(CAPABILITIES, backend="secrettoy")
    declared = SecretToyOptions
