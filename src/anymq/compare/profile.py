"""What a backend tells ``anymq compare`` about itself, so compare names no broker.

Each backend's :class:`~anymq.hookspecs.BackendSpec` may name a :class:`CompareProfile`
(``compare_profile="module:attr"``). The profile is plain data (env variable, default
ports, contract tuning, workload defaults, client distributions) plus the ``"module:attr"``
of its raw-client :class:`Baseline`, which is imported only when a run measures that
backend: loading a profile never imports a client library.

A baseline should build its client from :func:`driver_for` (the backend's own driver,
made from the URL exactly as ``anymq.connect`` makes it, not started), so the raw client
and anymq connect to the same place with the same security settings.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import anymq
from anymq import plugins
from anymq.errors import ConfigError
from anymq.hookspecs import BackendSpec
from anymq.url import URL

if TYPE_CHECKING:
    from anymq.backend import BrokerDriver
    from anymq.compare.perf.shapes import Shape
    from anymq.compare.perf.workload import RoundRunner

Address = Callable[[URL], "tuple[str, int] | None"]


def _frozen(table: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    return MappingProxyType(dict(table or {}))


@dataclass(frozen=True, slots=True)
class Baseline:
    """The standard workload through the broker's own client library, for the ratio."""

    client: str
    """What the report calls the raw side, e.g. the library name."""
    description: str
    """How the raw side runs the workload (shown in the report next to its figures)."""
    run_round: RoundRunner
    """One round of the workload (see ``anymq.compare.perf.workload``)."""
    distribution: str | None = None
    """Distribution whose version the report shows next to ``client`` (None: no version)."""
    workloads: tuple[Shape, ...] = ()
    """Named benchmark workloads this backend adds to the standard ones
    (``anymq.compare.perf.shapes``), e.g. a raw route only this broker has."""
    differs: str = ""
    """Where the raw side does other work than anymq (another topology, another way to
    wait for the broker, no broker at all): the report prints it next to the ratios so a
    difference in work is not read as anymq's overhead."""


@dataclass(frozen=True, slots=True)
class CompareProfile:
    """How ``anymq compare`` treats one backend; every field has a neutral default."""

    kind: str
    """Short name for report columns and config tables (``[workload.<kind>]``)."""
    env: str | None = None
    """Environment variable whose URL is compared when no URL is given (ANYMQ_<NAME>_URL)."""
    default_url: str | None = None
    """A URL compared by default even without configuration (a backend needing no server)."""
    default_ports: Mapping[str, int] = field(default_factory=_frozen)
    """Port per URL scheme when the URL names none, for the reachability probe."""
    address: Address | None = None
    """host:port the probe tries for a URL (None: no network to probe); when not given,
    the URL's first host with ``default_ports``."""
    clients: tuple[str, ...] = ()
    """Client library distributions shown in the report's environment table."""
    loggers: tuple[str, ...] = ()
    """Loggers of the client libraries, silenced while compare draws its progress."""
    topic_suffixes: tuple[str, ...] = ()
    """Endings the backend's naming rule may demand on some URLs, tried in turn when a
    plain topic name is refused (the contract suite's topics get the first that passes)."""
    tuning: Mapping[str, float] = field(default_factory=_frozen)
    """ContractSuite waiting knobs for this backend (see ``anymq.compare.settings.TUNABLE``)."""
    workload: Mapping[str, int] = field(default_factory=_frozen)
    """Workload fields this backend runs with by default (a slow broker: fewer messages)."""
    quick_workload: Mapping[str, int] = field(default_factory=_frozen)
    """The same for ``--quick``."""
    baseline: str | None = None
    """``"module:attr"`` of the raw-client :class:`Baseline`, imported only to measure."""
    suite_options: Mapping[str, str] = field(default_factory=_frozen)
    """URL options the contract suite's run adds where the given URL does not set them:
    test pacing, not behaviour (e.g. a short redelivery timeout, so a killed member's
    messages come back within a test rather than after a broker's default)."""
    min_test_timeout: float = 0.0
    """A floor for the per-test time limit (``--test-timeout``, 30 s with ``--quick``) on
    a broker that is slow by nature (an emulator answering in 0.1-0.5 s)."""

    def suite_url(self, url: str) -> str:
        """``url`` with :attr:`suite_options` it does not set itself."""
        given = URL.parse(url).query
        extra = [f"{k}={v}" for k, v in self.suite_options.items() if k not in given]
        if not extra:
            return url
        return url + ("&" if "?" in url else "?") + "&".join(extra)

    def network_address(self, url: URL) -> tuple[str, int] | None:
        """The host:port to probe for ``url``, or None when there is nothing to probe."""
        if self.address is not None:
            return self.address(url)
        if not url.host:
            return None
        port = url.port or self.default_ports.get(url.scheme)
        return (url.host, port) if port else None


def no_network(url: URL) -> None:
    """``CompareProfile.address`` of an in-process backend: nothing to probe."""
    return None


def _attribute(reference: str, what: str, *, imports: bool = False) -> Any:
    """The object ``"module:attr"`` names; ImportError passes through when ``imports``
    (a baseline's missing client library), else it is a ConfigError naming the reference."""
    module_name, _, attr = reference.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if imports:
            raise
        raise ConfigError(f"{what} {reference!r}, which cannot be imported: {exc}") from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ConfigError(f"{what} {reference!r} does not exist") from None


def profile_of(spec: BackendSpec) -> CompareProfile:
    """The backend's profile, or a neutral one named after it when it declares none."""
    if spec.compare_profile is None:
        return CompareProfile(kind=spec.name)
    found = _attribute(spec.compare_profile, f"backend {spec.name!r} names compare profile")
    if not isinstance(found, CompareProfile):
        raise ConfigError(
            f"backend {spec.name!r}: {spec.compare_profile!r} is a {type(found).__name__}, "
            "not an anymq.compare.profile.CompareProfile"
        )
    return found


def profiles() -> dict[str, CompareProfile]:
    """Every installed backend's profile, by kind (sorted, so runs list them alike)."""
    out: dict[str, CompareProfile] = {}
    for spec in plugins.backends().values():
        profile = profile_of(spec)
        out.setdefault(profile.kind, profile)
    return dict(sorted(out.items()))


def for_scheme(scheme: str) -> CompareProfile | None:
    """The profile of the backend serving ``scheme``, or None when none is installed."""
    spec = plugins.backends().get(scheme)
    return None if spec is None else profile_of(spec)


def load_baseline(profile: CompareProfile) -> Baseline:
    """Import the raw-client baseline (and so its client library); ImportError if missing."""
    if profile.baseline is None:
        raise LookupError(f"{profile.kind} declares no raw-client baseline")
    found = _attribute(profile.baseline, f"{profile.kind}'s baseline", imports=True)
    if not isinstance(found, Baseline):
        raise ConfigError(
            f"{profile.kind}'s baseline {profile.baseline!r} is a {type(found).__name__}, "
            "not an anymq.compare.profile.Baseline"
        )
    return found


def driver_for(url: str) -> BrokerDriver:
    """The backend's driver for ``url``, made exactly as ``anymq.connect(url)`` makes it
    (same option parsing and checks), not started: a baseline reads its parsed settings."""
    return anymq.connect(url).driver


def version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"
