"""Finding backends: pluggy plugins from the ``anymq`` entry-point group, loaded lazily.

The registry only imports a backend's module when a URL with its scheme is opened, so
``anymq backends`` works even where an optional client library is missing, and opening
such a URL explains which extra to install instead of showing an ImportError.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

from anymq import hookspecs
from anymq.errors import ConfigError, UnknownBackend
from anymq.hookspecs import BackendSpec

if TYPE_CHECKING:
    from anymq.backend import BrokerDriver
    from anymq.options import Options
    from anymq.serializers import Serializer

_manager: pluggy.PluginManager | None = None


class _Builtins:
    """Serializers that ship with the core, registered like any plugin."""

    @staticmethod
    @hookspecs.hookimpl
    def anymq_serializers() -> dict[str, Callable[[], Serializer]]:
        from anymq.serializers import JsonSerializer, StrSerializer

        return {"json": JsonSerializer, "str": StrSerializer}


def plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, built on first use."""
    global _manager
    if _manager is None:
        pm = pluggy.PluginManager("anymq")
        pm.add_hookspecs(hookspecs)
        pm.register(_Builtins, name="anymq.builtins")
        pm.load_setuptools_entrypoints("anymq")
        _manager = pm
    return _manager


def register(plugin: object, name: str | None = None) -> None:
    """Register a plugin object at run time (tests, applications embedding a backend)."""
    plugin_manager().register(plugin, name=name)


def unregister(plugin: object) -> None:
    """Remove a plugin registered with :func:`register`."""
    plugin_manager().unregister(plugin)


def backends() -> dict[str, BackendSpec]:
    """Installed backends by scheme."""
    found: dict[str, BackendSpec] = {}
    for specs in plugin_manager().hook.anymq_backends():
        for spec in specs:
            for scheme in spec.schemes:
                found.setdefault(scheme, spec)
    return found


def serializers() -> dict[str, Callable[[], Serializer]]:
    """Serializer factories by name."""
    found: dict[str, Callable[[], Serializer]] = {}
    for table in reversed(plugin_manager().hook.anymq_serializers()):
        found.update(table)
    return found


def load_driver(scheme: str) -> type[BrokerDriver]:
    """Import the driver class for a URL scheme, with an install hint if that fails."""
    table = backends()
    spec = table.get(scheme)
    if spec is None:
        raise UnknownBackend(
            scheme,
            sorted(table),
            "Install the backend's extra, e.g. pip install 'anymq[kafka]', or a third-party "
            "plugin that registers the scheme in the 'anymq' entry-point group",
        )
    module_name, _, attr = spec.driver.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        extra = f"pip install 'anymq[{spec.extra}]'" if spec.extra else "install its dependencies"
        raise UnknownBackend(
            scheme,
            sorted(table),
            f"{exc}; {extra}",
            loadable=True,
        ) from exc
    driver: Any = getattr(module, attr, None)
    if driver is None:
        raise ConfigError(f"backend {spec.name!r} names {spec.driver!r}, which does not exist")
    return driver  # type: ignore[no-any-return]


def load_options(scheme: str) -> type[Options] | None:
    """The option declarations of the backend for ``scheme`` (None if it declares none).

    Read from ``BackendSpec.options`` without importing the client library; a backend that
    names none is asked through its driver class.
    """
    spec = backends().get(scheme)
    if spec is None or spec.options is None:
        return load_driver(scheme).declared
    module_name, _, attr = spec.options.partition(":")
    try:
        declared: Any = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"backend {spec.name!r} names options {spec.options!r}, which cannot be loaded: {exc}"
        ) from exc
    return declared  # type: ignore[no-any-return]
