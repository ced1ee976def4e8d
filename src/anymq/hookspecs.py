"""The hooks a plugin can implement. Every hook is documented in docs/plugins.md (a test checks).

Plugins are found through the ``anymq`` entry-point group; the built-in backends are
registered in code through these same hooks (``anymq.plugins.DEFAULT_PLUGINS``), so a
third-party backend is a first-class citizen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from anymq.serializers import Serializer

hookspec = pluggy.HookspecMarker("anymq")
hookimpl = pluggy.HookimplMarker("anymq")


@dataclass(frozen=True, slots=True)
class BackendSpec:
    """A backend a plugin offers, described without importing its client library.

    ``driver`` is ``"module:ClassName"`` of a :class:`anymq.backend.BrokerDriver`; it is
    imported only when a URL with one of ``schemes`` is opened, so a missing optional
    dependency turns into ``install_hint`` instead of an ImportError. Without a hint, one is
    made from ``extra``, an extra of the distribution that ships the plugin (found from its
    entry point): ``pip install '<distribution>[extra]'``. ``options`` is
    ``"module:ClassName"`` of the backend's :class:`anymq.options.Options` declarations, in a
    module that imports no client library (``anymq backends --options`` and secret masking
    read it where the client is not installed); without it they come from the driver.
    ``compare_profile`` is ``"module:attr"`` of an
    :class:`anymq.compare.profile.CompareProfile`: how ``anymq compare`` runs this backend and
    its raw-client baseline (optional).
    """

    name: str
    schemes: tuple[str, ...]
    driver: str
    extra: str | None = None
    description: str = ""
    options: str | None = None
    install_hint: str | None = None
    """What to run when the driver's dependencies are missing, e.g. "pip install anymq-nats"."""
    compare_profile: str | None = None


@hookspec
def anymq_backends() -> list[BackendSpec]:  # type: ignore[empty-body]
    """Return the backends this plugin provides."""


@hookspec
def anymq_serializers() -> dict[str, Callable[[], Serializer]]:  # type: ignore[empty-body]
    """Return serializer factories by name, usable as ``serializer="name"``."""
