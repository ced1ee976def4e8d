"""What one ``anymq compare`` run does, merged from the command line, a TOML file and the env.

Precedence: command-line flags, then the config file (``--config``, else
``./anymq-compare.toml`` when it exists), then defaults. URLs come from the command line;
without any, from every backend's default URL (one needing no server), the config file's
``urls`` and every backend's ``ANYMQ_<KIND>_URL`` / ``ANYMQ_URL`` set in the environment.
What differs per backend (env variable, waiting knobs, workload defaults) comes from its
:class:`~anymq.compare.profile.CompareProfile`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from anymq.compare.profile import for_scheme, profiles
from anymq.errors import ConfigError
from anymq.url import URL

ANY_URL = "ANYMQ_URL"
DEFAULT_CONFIG = Path("anymq-compare.toml")
DEFAULT_OUTPUT = Path("reports/compare")

#: ContractSuite class attributes a config file may set per backend (waiting knobs only).
TUNABLE = {
    "quiet_period": float,
    "delivery_timeout": float,
    "retention_seconds": float,
    "retention_bytes": int,
    "retention_timeout": float,
}


@dataclass(frozen=True, slots=True)
class Workload:
    """The standard performance workload, run the same way through anymq and the raw client."""

    size: int = 1024
    """Bytes per message body."""
    count: int = 20_000
    """Messages per round for the produce and consume rates."""
    producers: int = 2
    """Concurrent producers, each sending count / producers messages."""
    consumers: int = 2
    """Members of one consumer group draining the topic."""
    partitions: int = 4
    """Partitions of the topic, where the broker has partitions (else 1)."""
    batch: int = 100
    """Messages per send_batch call (the broker's own batch limit still applies)."""
    prefetch: int = 100
    """Messages a consumer asks for at once (receive max / prefetch / MaxNumberOfMessages)."""
    latency_samples: int = 500
    """Messages sent one at a time for the end-to-end latency figures."""
    rounds: int = 3
    """Rounds per side, alternating anymq and raw; rates are the median round."""
    phase_timeout: float = 120.0
    """Seconds one phase (produce, consume, latency) may take before it counts as failed."""

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"workload {item.name} must be a number > 0, got {value!r}")
        if self.size < 16:
            raise ConfigError(
                f"workload size must be >= 16 bytes (a sequence and a clock), got {self.size}"
            )


QUICK = Workload(
    size=256,
    count=5_000,
    producers=2,
    consumers=2,
    partitions=4,
    batch=100,
    prefetch=100,
    latency_samples=100,
    rounds=3,
    phase_timeout=60.0,
)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a run needs; ``public()`` is what the JSON report shows (no passwords)."""

    urls: tuple[str, ...]
    output: Path = DEFAULT_OUTPUT
    json_path: Path = DEFAULT_OUTPUT / "compare.json"
    html_path: Path = DEFAULT_OUTPUT / "compare.html"
    behaviour: bool = True
    performance: bool = True
    quick: bool = False
    workload: Workload = field(default_factory=Workload)
    """The workload for every broker, before per-kind settings."""
    kind_workload: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Per broker kind, from the config file's [workload.<kind>] tables."""
    explicit: frozenset[str] = frozenset()
    """Workload fields set by a flag or the config's [workload] table: kind defaults yield."""
    connect_timeout: float = 5.0
    """Seconds the reachability probe waits for a broker."""
    test_timeout: float = 60.0
    """Seconds one contract test may take."""
    tuning: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    """Contract-suite waiting knobs per broker kind (see TUNABLE)."""
    config_path: Path | None = None

    def tuning_for(self, kind: str) -> dict[str, float]:
        """The suite's waiting knobs for a broker kind: its profile's, then [tuning.<kind>]."""
        profile = profiles().get(kind)
        merged = dict(profile.tuning) if profile is not None else {}
        merged.update(self.tuning.get(kind, {}))
        return merged

    def workload_for(self, kind: str) -> Workload:
        """The workload for one broker kind: its profile's defaults, then [workload.<kind>]."""
        profile = profiles().get(kind)
        defaults: Mapping[str, int] = {}
        if profile is not None:
            defaults = profile.quick_workload if self.quick else profile.workload
        values: dict[str, Any] = {k: v for k, v in defaults.items() if k not in self.explicit}
        values.update(self.kind_workload.get(kind, {}))
        return replace(self.workload, **values) if values else self.workload

    def public(self) -> dict[str, Any]:
        return {
            "urls": [URL.parse(u).render() for u in self.urls],
            "output": str(self.output),
            "json": str(self.json_path),
            "html": str(self.html_path),
            "behaviour": self.behaviour,
            "performance": self.performance,
            "quick": self.quick,
            "workload": asdict(self.workload),
            "workload_per_kind": {k: dict(v) for k, v in self.kind_workload.items()},
            "connect_timeout": self.connect_timeout,
            "test_timeout": self.test_timeout,
            "tuning": {k: dict(v) for k, v in self.tuning.items()},
            "config": str(self.config_path) if self.config_path else None,
        }


_TOP_KEYS = {
    "urls",
    "output",
    "json",
    "html",
    "behaviour",
    "performance",
    "quick",
    "connect_timeout",
    "test_timeout",
    "workload",
    "tuning",
}


def load_config(path: Path) -> dict[str, Any]:
    """Read and check a TOML config file; unknown keys are an error naming the valid ones."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    _known(data, _TOP_KEYS, str(path))
    workload = data.get("workload", {})
    if not isinstance(workload, dict):
        raise ConfigError(f"{path}: [workload] must be a table")
    names = {f.name for f in fields(Workload)}
    _known(
        {k: v for k, v in workload.items() if not isinstance(v, dict)}, names, f"{path} [workload]"
    )
    for kind, table in workload.items():
        if isinstance(table, dict):
            _known(table, names, f"{path} [workload.{kind}]")
    tuning = data.get("tuning", {})
    if not isinstance(tuning, dict) or not all(isinstance(v, dict) for v in tuning.values()):
        raise ConfigError(f"{path}: [tuning.<kind>] must be tables of waiting knobs")
    for kind, knobs in tuning.items():
        _known(knobs, set(TUNABLE), f"{path} [tuning.{kind}]")
    urls = data.get("urls", [])
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise ConfigError(f"{path}: urls must be a list of strings")
    return data


def _known(table: Mapping[str, Any], valid: set[str], where: str) -> None:
    unknown = set(table) - valid
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(sorted(unknown))} in {where}; "
            f"valid: {', '.join(sorted(valid))}"
        )


def env_urls() -> tuple[str, ...]:
    """The environment variables whose URLs are compared by default: each backend's, then
    ANYMQ_URL."""
    return (*(p.env for p in profiles().values() if p.env), ANY_URL)


def default_urls(config_urls: Sequence[str], environ: Mapping[str, str]) -> list[str]:
    """Every backend's default URL, the config file's URLs, every URL set in the environment."""
    found = [p.default_url for p in profiles().values() if p.default_url]
    found += config_urls
    found += [environ[name] for name in env_urls() if environ.get(name)]
    return dedupe(found)


def dedupe(urls: Sequence[str]) -> list[str]:
    """Keep the first of URLs that point at the same place (compared without query order)."""
    seen: set[str] = set()
    out: list[str] = []
    for text in urls:
        parsed = URL.parse(text)
        ident = parsed.render(hide_password=False).rstrip("/")
        if ident not in seen:
            seen.add(ident)
            out.append(text)
    return out


def resolve(
    *,
    urls: Sequence[str],
    flags: Mapping[str, Any],
    environ: Mapping[str, str],
    config_path: Path | None = None,
) -> Settings:
    """Merge flags (None = not given), config file and defaults into Settings."""
    config: dict[str, Any] = {}
    if config_path is None and DEFAULT_CONFIG.is_file():
        config_path = DEFAULT_CONFIG
    if config_path is not None:
        config = load_config(config_path)

    def pick(name: str, default: Any) -> Any:
        value = flags.get(name)
        if value is not None:
            return value
        return config.get(name, default)

    quick = bool(pick("quick", False))
    base = QUICK if quick else Workload()
    configured = config.get("workload", {})
    workload_values = {k: v for k, v in configured.items() if not isinstance(v, dict)}
    workload_values.update({k: v for k, v in flags.get("workload", {}).items() if v is not None})
    kind_workload = {k: v for k, v in configured.items() if isinstance(v, dict)}
    try:
        workload = replace(base, **workload_values)
        for table in kind_workload.values():
            replace(workload, **table)  # check the values now, not mid-run
    except TypeError as exc:
        raise ConfigError(f"invalid workload setting: {exc}") from exc
    chosen = list(urls) or default_urls(config.get("urls", []), environ)
    for text in chosen:
        for_scheme(URL.parse(text).scheme)  # fail early: the URL's or the profile's error
    output = Path(pick("output", DEFAULT_OUTPUT))
    behaviour = pick("behaviour", True)
    performance = pick("performance", True)
    if not behaviour and not performance:
        raise ConfigError("nothing to do: --no-behaviour and --no-performance together")
    return Settings(
        urls=tuple(dedupe(chosen)),
        output=output,
        json_path=Path(pick("json", output / "compare.json")),
        html_path=Path(pick("html", output / "compare.html")),
        behaviour=bool(behaviour),
        performance=bool(performance),
        quick=quick,
        workload=workload,
        kind_workload=kind_workload,
        explicit=frozenset(workload_values),
        connect_timeout=float(pick("connect_timeout", 5.0)),
        test_timeout=float(pick("test_timeout", 30.0 if quick else 60.0)),
        tuning={k: dict(v) for k, v in config.get("tuning", {}).items()},
        config_path=config_path,
    )
