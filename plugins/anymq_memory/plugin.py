"""The memory backend's plugin, registered in code (``anymq.plugins.DEFAULT_PLUGINS``) and as
an ``anymq`` entry point; imports nothing heavy."""

from __future__ import annotations

from anymq.hookspecs import BackendSpec, hookimpl


@hookimpl
def anymq_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            name="memory",
            schemes=("memory",),
            driver="anymq_memory.driver:MemoryBroker",
            options="anymq_memory.options:MemoryOptions",
            description="in-process event log: partitions, groups, replay, retention",
            compare_profile="anymq_memory.profile:PROFILE",
        )
    ]
