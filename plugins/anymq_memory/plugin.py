"""Entry point of the memory backend in the ``anymq`` group; imports nothing heavy."""

from __future__ import annotations

from anymq.hookspecs import BackendSpec, hookimpl


@hookimpl
def anymq_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            name="memory",
            schemes=("memory",),
            driver="anymq_memory.driver:MemoryBroker",
            description="in-process event log: partitions, groups, replay, retention",
            compare_profile="anymq_memory.profile:PROFILE",
        )
    ]
