"""A broken backend for the contract suite's own tests: ``lossy://`` is the memory log with a
producer that confirms every 7th message and then drops it (a lost write, as a broker that
acks before it has stored would lose it).

Load it into a pytest run with ``-p tests.core.lossy_backend`` (the repository root on
``sys.path``): it registers the ``lossy`` scheme when pytest configures, so
``--anymq-url lossy://`` runs the whole contract suite against it.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from typing import Any

import pytest

from anymq import plugins
from anymq.backend import Outgoing, ProducerDriver, ProducerOptions, Sender
from anymq.hookspecs import BackendSpec, hookimpl
from anymq.message import Receipt
from anymq.url import URL
from anymq_memory.driver import CAPABILITIES, MemoryBroker
from anymq_memory.producer import MemoryProducer

EVERY = 7
"""Every EVERY-th message sent on a connection is confirmed and lost."""


class LossyProducer(MemoryProducer):
    """Appends like the memory producer, except every EVERY-th message: confirmed, dropped."""

    def __init__(self, broker: LossyBroker, options: ProducerOptions) -> None:
        super().__init__(broker.context, options)
        self.counter = broker.counter

    def _lose(self) -> bool:
        return next(self.counter) % EVERY == EVERY - 1

    def _append(self, topic: Any, message: Outgoing, ts: int) -> Receipt:
        if self._lose():
            return Receipt(topic.name, 0, -1, None)
        return super()._append(topic, message, ts)

    def sender(self, topic: str) -> Sender:
        plain = super().sender(topic)

        async def lossy(value: bytes, key: bytes | None, size: int) -> Receipt:
            if self._lose():
                self._topic(topic)  # a missing topic is still refused
                return Receipt(topic, 0, -1, None)
            return await plain(value, key, size)

        return lossy


class LossyBroker(MemoryBroker):
    name = "lossy"
    capabilities = dataclasses.replace(CAPABILITIES, backend="lossy")

    def __init__(self, url: URL, options: Mapping[str, Any]) -> None:
        super().__init__(url, options)
        self.counter = itertools.count()

    def producer(self, options: ProducerOptions) -> ProducerDriver:
        return LossyProducer(self, options)


class LossyPlugin:
    @staticmethod
    @hookimpl
    def anymq_backends() -> list[BackendSpec]:
        return [
            BackendSpec(
                "lossy",
                ("lossy",),
                "tests.core.lossy_backend:LossyBroker",
                description="the memory log losing every 7th message (a test fixture)",
            )
        ]


def pytest_configure(config: pytest.Config) -> None:
    if not plugins.plugin_manager().has_plugin("lossy"):
        plugins.register(LossyPlugin, name="lossy")
