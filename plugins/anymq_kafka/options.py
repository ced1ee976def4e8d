"""The options of kafka:// declared once (anymq.options parses them), and aiokafka kwargs.

The declarations say each option's type, default, scope and whether it is secret (SASL and
key passwords never appear in reprs or error messages); the core parses every value.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from anymq.errors import ConfigError
from anymq.options import (
    Bool,
    Choice,
    Int,
    Kind,
    Option,
    Options,
    Path,
    Refused,
    Scope,
    Seconds,
    Table,
    Text,
)
from anymq.url import URL


class Acks(Kind[int | str]):
    """Kafka's acks: all (also -1), 1 or 0."""

    type_name = "choice"
    expected = "one of all, 1, 0 (-1 means all)"
    bad_example = "2"

    def from_text(self, text: str) -> int | str:
        word = text.strip().lower()
        if word in ("all", "-1"):
            return "all"
        if word in ("0", "1"):
            return int(word)
        raise Refused

    def from_value(self, value: object) -> int | str:
        if isinstance(value, bool) or not isinstance(value, int):
            raise Refused
        return self.from_text(str(value))


CONNECT: tuple[Scope, ...] = ("connect",)
PRODUCER: tuple[Scope, ...] = ("connect", "producer")
CONSUMER: tuple[Scope, ...] = ("connect", "consumer")


class KafkaOptions(Options):
    """Every option of kafka://. Producer and consumer options given at connect (or on the
    URL) are the defaults of every producer / consumer; the same names given to
    ``broker.producer()`` / ``broker.consumer()`` override them."""

    backend = "kafka"

    # Connection.
    connect_timeout = Option(
        Seconds(), 10.0, "seconds to bootstrap; then BrokerUnavailable naming host:port"
    )
    metadata_timeout = Option(
        Seconds(), 5.0, "seconds a topic-existence check may take (TopicNotFound otherwise)"
    )
    request_timeout_ms = Option(Int(1000), 30_000, "aiokafka's per-request timeout")
    client_id = Option(Text(), "anymq", "Kafka client id")
    replication_factor = Option(
        Int(-1),
        -1,
        "replication factor for create_topic (-1: the broker's default.replication.factor)",
        scopes=("connect", "topic"),
    )
    security_protocol = Option(
        Choice("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"),
        None,
        "derived from the scheme (kafka+ssl:// is TLS) and whether SASL is configured",
        shown_default="derived",
    )
    sasl_mechanism = Option(
        Choice("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"),
        None,
        "SASL mechanism",
        shown_default="PLAIN with a user",
    )
    sasl_username = Option(Text(), None, "SASL user", shown_default="the URL's user")
    sasl_password = Option(
        Text(), None, "SASL password", secret=True, shown_default="the URL's password"
    )
    ssl_cafile = Option(Path(), None, "CA bundle to verify the brokers", shown_default="system CAs")
    ssl_certfile = Option(Path(), None, "TLS client certificate")
    ssl_keyfile = Option(Path(), None, "TLS client key")
    ssl_password = Option(Text(), None, "password of the TLS client key", secret=True)
    ssl_check_hostname = Option(Bool(), True, "check the broker's host name in its certificate")

    # Producer.
    acks = Option(Acks(), "all", "all, 1 or 0: which replicas confirm a send", scopes=PRODUCER)
    enable_idempotence = Option(
        Bool(),
        None,
        "idempotent producer (removes duplicates from retries); needs acks=all",
        scopes=PRODUCER,
        shown_default="true with acks=all",
    )
    max_request_size = Option(
        Int(1024), None, "largest request in bytes", scopes=PRODUCER, shown_default="aiokafka's"
    )

    # Consumer.
    session_timeout_ms = Option(Int(1000), 10_000, "group session timeout", scopes=CONSUMER)
    heartbeat_interval_ms = Option(Int(50), 500, "group heartbeat interval", scopes=CONSUMER)
    max_poll_interval_ms = Option(
        Int(1000), 300_000, "longest time between fetches before leaving the group", scopes=CONSUMER
    )
    rebalance_timeout_ms = Option(
        Int(1000), 30_000, "time members get to rejoin in a rebalance", scopes=CONSUMER
    )
    fetch_max_wait_ms = Option(
        Int(0), 100, "longest time a fetch waits for data on the broker", scopes=CONSUMER
    )
    max_partition_fetch_bytes = Option(
        Int(1024),
        None,
        "bytes per partition per fetch",
        scopes=CONSUMER,
        shown_default="aiokafka's",
    )
    commit_interval_ms = Option(
        Int(0), 200, "how often acked offsets are committed in the background", scopes=CONSUMER
    )
    join_timeout = Option(
        Seconds(), 60.0, "seconds a consumer's start waits to join its group", scopes=CONSUMER
    )
    isolation_level = Option(
        Choice("read_uncommitted", "read_committed"),
        "read_uncommitted",
        "which records of transactions a consumer reads",
        scopes=CONSUMER,
    )

    fast_fetch = Option(
        Bool(),
        True,
        "use aiokafka's private fetcher/coordinator (faster); false: public API only",
        scopes=CONSUMER,
    )

    # Topic.
    configs = Option(
        Table(),
        None,
        "extra Kafka topic configs for create_topic (keyword only)",
        scopes=("topic",),
    )


@dataclass(frozen=True)
class Settings:
    """The broker's settings after conversion: connection, plus client defaults."""

    bootstrap: list[str]
    hosts: str
    connection: dict[str, Any] = field(repr=False)
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
    """The connection settings: bootstrap servers, timeouts and security."""
    values = KafkaOptions.parse(options)
    hosts = url.hosts or (("127.0.0.1", 9092),)
    bootstrap = [f"{h if ':' not in h else '[' + h + ']'}:{p or 9092}" for h, p in hosts]
    return Settings(
        bootstrap=bootstrap,
        hosts=",".join(bootstrap),
        connection=_security(url, values),
        connect_timeout=values.connect_timeout,
        metadata_timeout=values.metadata_timeout,
        request_timeout_ms=values.request_timeout_ms,
        replication_factor=values.replication_factor,
        client_id=values.client_id,
    )


def _security(url: URL, values: KafkaOptions) -> dict[str, Any]:
    """security_protocol, SASL and an SSLContext for aiokafka, from the URL and options."""
    tls = url.scheme == "kafka+ssl" or any(k.startswith("ssl_") for k in values)
    username = values.sasl_username or url.username
    password = values.sasl_password or url.password
    mechanism = values.sasl_mechanism
    # Any credential means SASL: a password alone used to be dropped without a word, and
    # the client connected unauthenticated.
    sasl = mechanism is not None or username is not None or password is not None
    protocol = values.security_protocol
    if protocol is None:
        protocol = ("SASL_" if sasl else "") + ("SSL" if tls else "PLAINTEXT")
    elif sasl and not protocol.startswith("SASL"):
        raise ConfigError(
            f"security_protocol={protocol} does not authenticate, but SASL credentials or "
            "sasl_mechanism were given: use SASL_PLAINTEXT or SASL_SSL, or drop them"
        )
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


def _ssl_context(values: KafkaOptions) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=values.ssl_cafile)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"cannot load ssl_cafile {values.ssl_cafile!r}: {type(exc).__name__}: {exc}"
        ) from exc
    if values.ssl_certfile is not None:
        try:
            context.load_cert_chain(values.ssl_certfile, values.ssl_keyfile, values.ssl_password)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"cannot load the TLS client certificate {values.ssl_certfile!r}: "
                f"{type(exc).__name__}"
            ) from None
    context.check_hostname = values.ssl_check_hostname
    if not context.check_hostname:
        context.verify_mode = ssl.CERT_REQUIRED
    return context
