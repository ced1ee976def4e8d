"""Finding backends: pluggy plugins, built-in ones registered in code, others from entry points.

The built-in backends are registered from :data:`DEFAULT_PLUGINS` like any third-party
plugin (datasette's pattern), so a plain source checkout works without installed entry
points; third parties come from the ``anymq`` entry-point group. A plugin module is
registered once however it was found.

The registry only imports a backend's driver when a URL with its scheme is opened
(fsspec's lazy registry), so ``anymq backends`` works even where an optional client library
is missing, and opening such a URL shows the plugin's install hint instead of an ImportError.
A scheme belongs to one plugin: a second claim is a ConfigError, never a silent takeover.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, cast

import pluggy

from anymq import hookspecs
from anymq.errors import ConfigError, UnknownBackend
from anymq.hookspecs import BackendSpec

if TYPE_CHECKING:
    from anymq.backend import BrokerDriver
    from anymq.options import Options
    from anymq.serializers import Serializer

ENTRY_POINT_GROUP = "anymq"

#: Modules of the backends that ship with anymq, registered under their module name.
DEFAULT_PLUGINS = (
    "anymq_memory.plugin",
    "anymq_kafka.plugin",
    "anymq_rabbitmq.plugin",
    "anymq_sqs.plugin",
    "anymq_redis.plugin",
    "anymq_nats.plugin",
)

_manager: pluggy.PluginManager | None = None
_distributions: dict[str, str] = {}
"""Plugin name -> the distribution whose entry point registered it (for install hints)."""


class _Builtins:
    """Serializers that ship with the core, registered like any plugin."""

    @staticmethod
    @hookspecs.hookimpl
    def anymq_serializers() -> dict[str, Callable[[], Serializer]]:
        from anymq.serializers import JsonSerializer, StrSerializer

        return {"json": JsonSerializer, "str": StrSerializer}


def _builtin(module: str) -> Any:
    """A built-in plugin module; missing only when ``src/`` is on the path without
    ``plugins/`` (a source tree used without installing it): say how to fix that."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module.partition(".")[0]:
            raise  # the plugin itself is there and failed on something else
        raise ConfigError(
            f"the built-in backend module {module!r} is not importable: anymq is used from "
            "a source tree without its plugins/ folder. Install it (pip install -e . or "
            "scripts/setup.sh) or put both src and plugins on PYTHONPATH"
        ) from exc


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    """Register third-party plugins; a built-in module also installed as one is skipped."""
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        plugin = ep.load()
        if pm.is_registered(plugin):
            continue
        dist = ep.dist.name if ep.dist is not None else None
        name = ep.name if pm.get_plugin(ep.name) is None else f"{dist}:{ep.name}"
        pm.register(plugin, name=name)
        if dist is not None:
            _distributions[name] = dist


def plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, built on first use (scheme claims checked then)."""
    global _manager
    if _manager is None:
        pm = pluggy.PluginManager("anymq")
        pm.add_hookspecs(hookspecs)
        pm.register(_Builtins, name="anymq.builtins")
        for module in DEFAULT_PLUGINS:
            pm.register(_builtin(module), name=module)
        _load_entry_points(pm)
        _claims(pm)
        _manager = pm
    return _manager


def register(plugin: object, name: str | None = None) -> None:
    """Register a plugin object at run time (tests, applications embedding a backend).

    ConfigError, leaving the registry as it was, if it claims a scheme another plugin has.
    """
    pm = plugin_manager()
    pm.register(plugin, name=name)
    try:
        _claims(pm)
    except ConfigError:
        pm.unregister(plugin)
        raise


def register_entries(entries: list[dict[str, str]]) -> None:
    """Register plugins another process registered at run time (``{"name", "path", "ref"}``
    each), so a child process (compare's suite run, a contract test's member) sees the same
    backends as its parent."""
    manager = plugin_manager()
    for entry in entries:
        if manager.has_plugin(entry["name"]):
            continue
        if entry["path"] not in sys.path:
            sys.path.insert(0, entry["path"])
        module_name, _, attr = entry["ref"].partition(":")
        found: Any = importlib.import_module(module_name)
        for part in filter(None, attr.split(".")):
            found = getattr(found, part)
        register(found, name=entry["name"])


def unregister(plugin: object) -> None:
    """Remove a plugin registered with :func:`register`."""
    plugin_manager().unregister(plugin)


def install_hint(spec: BackendSpec, distribution: str | None) -> str | None:
    """What to install when ``spec``'s driver does not import: the plugin's own words first.

    ``extra`` is an extra of the distribution that ships the plugin, so it becomes
    ``pip install '<that distribution>[extra]'``, never ``anymq[extra]`` by guesswork.
    """
    if spec.install_hint:
        return spec.install_hint
    if spec.extra and distribution:
        return f"pip install '{distribution}[{spec.extra}]'"
    if spec.extra:
        return f"install the extra {spec.extra!r} of the package that provides {spec.name!r}"
    return None


def _claims(pm: pluggy.PluginManager) -> dict[str, BackendSpec]:
    """Every scheme with the spec that claims it; ConfigError if two plugins claim one."""
    owners: dict[str, tuple[str, BackendSpec]] = {}
    for impl in pm.hook.anymq_backends.get_hookimpls():  # in registration order
        plugin = impl.plugin_name
        specs = cast("list[BackendSpec]", impl.function())
        for spec in specs:
            spec = dataclasses.replace(
                spec, install_hint=install_hint(spec, _distributions.get(plugin))
            )
            for scheme in spec.schemes:
                first = owners.get(scheme)
                if first is not None and first != (plugin, spec):
                    raise ConfigError(
                        f"the URL scheme {scheme!r} is claimed twice: by plugin {first[0]!r} "
                        f"(backend {first[1].name!r}) and by plugin {plugin!r} (backend "
                        f"{spec.name!r}); uninstall or unregister one of them"
                    )
                owners[scheme] = (plugin, spec)
    return {scheme: spec for scheme, (_, spec) in owners.items()}


def backends() -> dict[str, BackendSpec]:
    """Installed backends by scheme (``install_hint`` filled in where it can be)."""
    return _claims(plugin_manager())


def serializers() -> dict[str, Callable[[], Serializer]]:
    """Serializer factories by name."""
    found: dict[str, Callable[[], Serializer]] = {}
    for table in reversed(plugin_manager().hook.anymq_serializers()):
        found.update(table)
    return found


def load_driver(scheme: str) -> type[BrokerDriver]:
    """Import the driver class for a URL scheme, with the plugin's install hint if that fails."""
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
        hint = spec.install_hint or f"install the dependencies of the {spec.name!r} backend"
        raise UnknownBackend(
            scheme,
            sorted(table),
            f"{exc}; {hint}",
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
