"""A stand-in third-party driver for the plugin tests: the memory log under another name."""

from __future__ import annotations

import dataclasses

from anymq.features import Feature
from anymq.hookspecs import BackendSpec, hookimpl
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


class OneLogBroker(MemoryBroker):
    """A backend whose topics have no partitions (it does not declare Feature.PARTITIONS)."""

    name = "onelog"
    capabilities = dataclasses.replace(
        CAPABILITIES,
        backend="onelog",
        features=CAPABILITIES.features - {Feature.PARTITIONS, Feature.ROUND_ROBIN},
    )


class OneLogPlugin:
    """Registers ``onelog://``: ``plugins.register(OneLogPlugin, name="onelog")``."""

    @staticmethod
    @hookimpl
    def anymq_backends() -> list[BackendSpec]:
        return [BackendSpec("onelog", ("onelog",), "tests.core.toy_backend:OneLogBroker")]
