"""Options of the rabbitmq backend: parsing and defaults.

Every option is checked once here, so a typo fails at ``connect()`` with the list of valid
names instead of being ignored. URL query values arrive as strings; keyword options may be
typed values. The names anymq gives broker objects are derived in ``naming.py``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from anymq import convert
from anymq.errors import ConfigError

Mode = Literal["classic", "stream"]
QueueType = Literal["quorum", "classic"]
ExchangeType = Literal["topic", "direct", "fanout", "headers"]

EXCHANGE_TYPES: tuple[str, ...] = ("topic", "direct", "fanout", "headers")

#: Broker options (URL query or keyword) and what they mean.
BROKER_OPTIONS: dict[str, str] = {
    "mode": "classic (queues per group) or stream (a stream per topic, groups replay)",
    "queue_type": "quorum (default) or classic: the type of group queues",
    "exchange_type": "default exchange type of new topics: topic, direct, fanout, headers",
    "connect_timeout": "seconds to wait for the broker at start (default 10)",
    "publish_timeout": "seconds a send waits for its confirm, reconnects included (default 60)",
    "reconnect_interval": "seconds between reconnect attempts after a connection loss (default 1)",
    "heartbeat": "AMQP heartbeat in seconds (default 30)",
    "auto_create_topics": "create a missing topic on first send / subscribe (default false)",
    "stream_segment_bytes": "stream mode: segment size of topic streams (default 8 MiB)",
    "name": "connection name shown in the RabbitMQ management UI",
    "cafile": "amqps: CA bundle to verify the server",
    "certfile": "amqps: client certificate",
    "keyfile": "amqps: client key",
    "no_verify_ssl": "amqps: skip server certificate verification (testing only)",
}

PRODUCER_OPTIONS: dict[str, str] = {
    "confirm": "wait for publisher confirms (default true)",
    "mandatory": "raise PublishError when no queue takes a message (default: true in stream "
    "mode, false in classic mode)",
    "persistent": "delivery_mode 2 so messages survive a broker restart (default true)",
    "ttl": "per-message TTL in seconds (AMQP expiration)",
    "offsets": "stream mode: receipts carry stream offsets read back from the stream (default on)",
}

CONSUMER_OPTIONS: dict[str, str] = {
    "exclusive": "basic.consume exclusive: refuse other members (default false)",
}

TOPIC_OPTIONS: dict[str, str] = {
    "exchange_type": "topic (default), direct, fanout or headers",
}

def check_known(options: Mapping[str, Any], valid: Mapping[str, str], what: str) -> None:
    """ConfigError naming the unknown options and every valid one."""
    unknown = sorted(set(options) - set(valid))
    if unknown:
        listing = "; ".join(f"{name}: {doc}" for name, doc in sorted(valid.items()))
        raise ConfigError(
            f"unknown {what} option(s) for the rabbitmq backend: {', '.join(unknown)}. "
            f"Valid {what} options: {listing or 'none'}"
        )


def flag(options: Mapping[str, Any], name: str, default: bool) -> bool:
    value = options.get(name)
    return default if value is None else convert.flag(name, value)


def timeout(options: Mapping[str, Any], name: str, default: float) -> float:
    """A timeout or interval: seconds > 0 (0 is refused, never replaced by the default)."""
    value = options.get(name)
    return default if value is None else convert.seconds(name, value)


def seconds(options: Mapping[str, Any], name: str, default: float | None) -> float | None:
    value = options.get(name)
    if value is None:
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"option {name} must be a number of seconds, got {value!r}") from None
    if not math.isfinite(number) or number < 0:
        raise ConfigError(f"option {name} must be >= 0 seconds, got {value!r}")
    return number


def positive_int(options: Mapping[str, Any], name: str, default: int) -> int:
    value = options.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"option {name} must be an integer, got {value!r}") from None
    if number < 1:
        raise ConfigError(f"option {name} must be >= 1, got {value!r}")
    return number


def choice(options: Mapping[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = options.get(name)
    if value is None:
        return default
    text = str(value).strip().lower()
    if text not in allowed:
        raise ConfigError(f"option {name} must be one of {', '.join(allowed)}, got {value!r}")
    return text


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    """The broker options after parsing."""

    mode: Mode
    queue_type: QueueType
    exchange_type: ExchangeType
    connect_timeout: float
    publish_timeout: float
    reconnect_interval: float
    heartbeat: int
    auto_create_topics: bool
    stream_segment_bytes: int
    name: str | None
    ssl: dict[str, str]

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> BrokerSettings:
        check_known(options, BROKER_OPTIONS, "broker")
        ssl = {k: str(options[k]) for k in ("cafile", "certfile", "keyfile") if k in options}
        if "no_verify_ssl" in options:
            ssl["no_verify_ssl"] = "1" if flag(options, "no_verify_ssl", False) else "0"
        return cls(
            mode=choice(options, "mode", ("classic", "stream"), "classic"),  # type: ignore[arg-type]
            queue_type=choice(options, "queue_type", ("quorum", "classic"), "quorum"),  # type: ignore[arg-type]
            exchange_type=choice(options, "exchange_type", EXCHANGE_TYPES, "topic"),  # type: ignore[arg-type]
            connect_timeout=timeout(options, "connect_timeout", 10.0),
            publish_timeout=timeout(options, "publish_timeout", 60.0),
            reconnect_interval=timeout(options, "reconnect_interval", 1.0),
            heartbeat=positive_int(options, "heartbeat", 30),
            auto_create_topics=flag(options, "auto_create_topics", False),
            stream_segment_bytes=positive_int(options, "stream_segment_bytes", 8 * 1024 * 1024),
            name=str(options["name"]) if options.get("name") else None,
            ssl=ssl,
        )

