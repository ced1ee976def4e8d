"""Option parsing for kafka:// URLs: which options exist, their types, and aiokafka kwargs.

Options arrive merged (URL query values as strings, keyword options as Python values), so
every option is converted here once; an unknown name is a ConfigError naming the valid
ones. Secrets (SASL and key passwords) never appear in reprs or error messages.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from anymq.convert import flag as _bool
from anymq.convert import seconds as _seconds
from anymq.errors import ConfigError
from anymq.url import URL


def _int(name: str, value: Any, minimum: int = 0) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"option {name} must be an integer, got {value!r}") from exc
    if isinstance(value, float) and value != number:
        raise ConfigError(f"option {name} must be an integer, got {value!r}")
    if number < minimum:
        raise ConfigError(f"option {name} must be >= {minimum}, got {number}")
    return number


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"option {name} must be a non-empty string")
    return value


def _choice(*allowed: str) -> Callable[[str, Any], str]:
    def convert(name: str, value: Any) -> str:
        text = str(value).strip()
        for item in allowed:
            if text.upper() == item.upper():
                return item
        raise ConfigError(f"option {name} must be one of {', '.join(allowed)}, got {value!r}")

    return convert


def _acks(name: str, value: Any) -> int | str:
    text = str(value).strip().lower()
    if text in ("all", "-1"):
        return "all"
    if text in ("0", "1"):
        return int(text)
    raise ConfigError(f"option {name} must be 'all', 1 or 0, got {value!r}")


# name -> converter. Broker options configure the connection; producer and consumer
# options may also be given on the URL, where they act as defaults for every client.
CONNECTION: dict[str, Callable[[str, Any], Any]] = {
    "client_id": _text,
    "connect_timeout": _seconds,
    "metadata_timeout": _seconds,
    "request_timeout_ms": lambda n, v: _int(n, v, 1000),
    "replication_factor": lambda n, v: _int(n, v, -1),
    "security_protocol": _choice("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"),
    "sasl_mechanism": _choice("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"),
    "sasl_username": _text,
    "sasl_password": _text,
    "ssl_cafile": _text,
    "ssl_certfile": _text,
    "ssl_keyfile": _text,
    "ssl_password": _text,
    "ssl_check_hostname": _bool,
}
PRODUCER: dict[str, Callable[[str, Any], Any]] = {
    "acks": _acks,
    "enable_idempotence": _bool,
    "max_request_size": lambda n, v: _int(n, v, 1024),
}
CONSUMER: dict[str, Callable[[str, Any], Any]] = {
    "session_timeout_ms": lambda n, v: _int(n, v, 1000),
    "heartbeat_interval_ms": lambda n, v: _int(n, v, 50),
    "max_poll_interval_ms": lambda n, v: _int(n, v, 1000),
    "rebalance_timeout_ms": lambda n, v: _int(n, v, 1000),
    "fetch_max_wait_ms": lambda n, v: _int(n, v, 0),
    "max_partition_fetch_bytes": lambda n, v: _int(n, v, 1024),
    "commit_interval_ms": lambda n, v: _int(n, v, 0),
    "join_timeout": _seconds,
    "isolation_level": _choice("read_uncommitted", "read_committed"),
    "fast_fetch": _bool,
}
TOPIC: dict[str, Callable[[str, Any], Any]] = {
    "replication_factor": lambda n, v: _int(n, v, -1),
    "configs": lambda n, v: _configs(n, v),
}

SECRETS = frozenset({"sasl_password", "ssl_password"})


def _configs(name: str, value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"option {name} must be a mapping of Kafka topic configs")
    return {str(k): str(v) for k, v in value.items()}


def convert(
    given: Mapping[str, Any], known: Mapping[str, Callable[[str, Any], Any]], what: str
) -> dict[str, Any]:
    """Convert ``given`` with ``known``'s converters; unknown names are a ConfigError."""
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ConfigError(
            f"unknown {what} option(s) for kafka://: {', '.join(unknown)}; "
            f"valid: {', '.join(sorted(known))}"
        )
    return {name: known[name](name, value) for name, value in given.items()}


@dataclass(frozen=True)
class Settings:
    """The broker's settings after conversion: connection, plus client defaults."""

    bootstrap: list[str]
    hosts: str
    connection: dict[str, Any] = field(repr=False)
    producer: dict[str, Any] = field(default_factory=dict)
    consumer: dict[str, Any] = field(default_factory=dict)
    connect_timeout: float = 10.0
    metadata_timeout: float = 5.0
    request_timeout_ms: int = 30_000
    replication_factor: int = -1
    client_id: str = "anymq"

    def __repr__(self) -> str:
        return f"Settings(hosts={self.hosts!r})"

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments every aiokafka client takes: servers, timeouts and security."""
        kwargs = dict(self.connection)
        kwargs["bootstrap_servers"] = self.bootstrap
        kwargs["client_id"] = self.client_id
        kwargs["request_timeout_ms"] = self.request_timeout_ms
        return kwargs


def parse(url: URL, options: Mapping[str, Any]) -> Settings:
    """Split the merged options into connection, producer and consumer settings."""
    everything = {**CONNECTION, **PRODUCER, **CONSUMER}
    values = convert(options, everything, "broker")
    hosts = url.hosts or (("127.0.0.1", 9092),)
    bootstrap = [f"{h if ':' not in h else '[' + h + ']'}:{p or 9092}" for h, p in hosts]
    return Settings(
        bootstrap=bootstrap,
        hosts=",".join(bootstrap),
        connection=_security(url, values),
        producer={k: v for k, v in values.items() if k in PRODUCER},
        consumer={k: v for k, v in values.items() if k in CONSUMER},
        connect_timeout=values.get("connect_timeout", 10.0),
        metadata_timeout=values.get("metadata_timeout", 5.0),
        request_timeout_ms=values.get("request_timeout_ms", 30_000),
        replication_factor=values.get("replication_factor", -1),
        client_id=values.get("client_id", "anymq"),
    )


def _security(url: URL, values: Mapping[str, Any]) -> dict[str, Any]:
    """security_protocol, SASL and an SSLContext for aiokafka, from the URL and options."""
    tls = url.scheme == "kafka+ssl" or any(k.startswith("ssl_") for k in values)
    username = values.get("sasl_username", url.username)
    password = values.get("sasl_password", url.password)
    mechanism = values.get("sasl_mechanism")
    sasl = mechanism is not None or username is not None
    protocol = values.get("security_protocol")
    if protocol is None:
        protocol = ("SASL_" if sasl else "") + ("SSL" if tls else "PLAINTEXT")
    out: dict[str, Any] = {"security_protocol": protocol}
    if protocol.startswith("SASL"):
        if username is None or password is None:
            raise ConfigError(
                "SASL needs a username and password: kafka://user:password@host:9092 or "
                "sasl_username=... and sasl_password=..."
            )
        out["sasl_mechanism"] = mechanism or "PLAIN"
        out["sasl_plain_username"] = username
        out["sasl_plain_password"] = password
    if protocol.endswith("SSL"):
        out["ssl_context"] = _ssl_context(values)
    return out


def _ssl_context(values: Mapping[str, Any]) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=values.get("ssl_cafile"))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"cannot load ssl_cafile {values.get('ssl_cafile')!r}: {type(exc).__name__}: {exc}"
        ) from exc
    if "ssl_certfile" in values:
        try:
            context.load_cert_chain(
                values["ssl_certfile"], values.get("ssl_keyfile"), values.get("ssl_password")
            )
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"cannot load the TLS client certificate {values['ssl_certfile']!r}: "
                f"{type(exc).__name__}"
            ) from None
    context.check_hostname = values.get("ssl_check_hostname", True)
    if not context.check_hostname:
        context.verify_mode = ssl.CERT_REQUIRED
    return context
