"""URL and options of ``sqs://``, checked once so the rest of the backend trusts them.

sqs://                                    AWS, credentials/region from the normal chain
sqs://?region=eu-west-1&profile=dev       AWS with a profile
sqs://KEY:SECRET@?region=eu-west-1        AWS with keys in the URL (never shown)
sqs://127.0.0.1:4566                      shorthand for endpoint_url=http://127.0.0.1:4566
sqs://?endpoint_url=http://127.0.0.1:4566&region=us-east-1
sqs://127.0.0.1:4566?fifo=true            FIFO mode: KEY_ORDERING, topics end in .fifo
sqs://127.0.0.1:4566?mode=queue           one queue per topic, no SNS
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from anymq import convert
from anymq.errors import ConfigError
from anymq.url import URL, mask_url_password

SNS_LIMIT = 262_144
"""SNS payload limit (body + attributes); moto 5.2 enforces it on the body."""
SQS_LIMIT = 1_048_576
"""SQS payload limit since 2025 (moto 5.2 enforces it on the body); was 256 KiB."""

#: Credentials used against a local endpoint when none are configured (moto takes any).
DUMMY_KEY = "anymq-local"
DUMMY_SECRET = "anymq-local"

BROKER_OPTIONS: dict[str, str] = {
    "region": "AWS region (default: AWS_REGION / AWS_DEFAULT_REGION / profile; us-east-1 locally)",
    "profile": "AWS profile from ~/.aws/config",
    "endpoint_url": "SQS/SNS endpoint, e.g. http://127.0.0.1:4566 (default: AWS)",
    "mode": "'sns' (topic = SNS topic, group = subscribed queue; default) or 'queue'",
    "fifo": "true: FIFO mode, topics end in .fifo, KEY_ORDERING declared",
    "visibility_timeout": "seconds a received message stays invisible (default 30)",
    "wait_time": "longest long poll in seconds, 0-20 (default 20)",
    "connect_timeout": "seconds to connect (default 2)",
    "read_timeout": "seconds to wait for a response (default wait_time + 10)",
    "max_attempts": "attempts per request incl. the first (default 2)",
    "max_pool_connections": "HTTP connections per client (default 50)",
    "auto_create_topics": "create missing topics on send/consume (default false)",
    "max_message_size": "service payload limit in bytes (default 262144 sns, 1048576 queue)",
    "ack_linger": "seconds acks wait to be batched into DeleteMessageBatch (default 0.005)",
}
CONSUMER_OPTIONS: dict[str, str] = {
    "visibility_timeout": "seconds a received message stays invisible (default: broker's)",
    "wait_time": "longest long poll in seconds, 0-20 (default: broker's)",
}


def flag(value: Any, name: str) -> bool:
    return convert.flag(name, value)


def number(value: Any, name: str, low: float, high: float | None = None) -> float:
    span = f">= {low:g}" if high is None else f"between {low:g} and {high:g}"
    try:
        out = float(value)
    except (TypeError, ValueError):
        out = math.nan
    if not math.isfinite(out) or out < low or (high is not None and out > high):
        raise ConfigError(f"option {name} must be a number {span}, got {value!r}")
    return out


def unknown(options: Mapping[str, Any], valid: Mapping[str, str], what: str) -> None:
    extra = set(options) - set(valid)
    if extra:
        raise ConfigError(
            f"unknown {what} option(s) for sqs://: {', '.join(sorted(extra))}; valid: "
            f"{', '.join(sorted(valid)) or 'none'}"
        )


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the SQS backend needs to connect and behave, validated."""

    endpoint_url: str | None
    region: str
    profile: str | None
    access_key: str | None
    secret_key: str | None = field(repr=False)
    mode: str
    fifo: bool
    visibility_timeout: int
    wait_time: int
    connect_timeout: float
    read_timeout: float
    max_attempts: int
    max_pool_connections: int
    auto_create: bool
    max_message_size: int
    ack_linger: float

    @property
    def local(self) -> bool:
        return self.endpoint_url is not None

    @property
    def endpoint(self) -> str:
        """host:port for messages (never credentials)."""
        if self.endpoint_url:
            parts = urlsplit(self.endpoint_url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
            return f"{parts.hostname}:{port}"
        return f"sqs.{self.region}.amazonaws.com:443"


def _check_endpoint(endpoint: str) -> None:
    """http(s)://host[:port] with a numeric port, checked before anything reads its parts."""
    parts = urlsplit(endpoint)
    try:
        parts.port  # noqa: B018 - urllib raises ValueError for a port that is not a number
    except ValueError:
        raise ConfigError(
            f"endpoint_url {mask_url_password(endpoint)!r}: the port is not a number from 1 to "
            "65535; give http(s)://host[:port]"
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"endpoint_url must be http(s)://host[:port], got {mask_url_password(endpoint)!r}"
        )


def parse(url: URL, options: Mapping[str, Any]) -> Settings:
    """Settings from the URL and the merged options (keyword options win)."""
    unknown(options, BROKER_OPTIONS, "broker")
    endpoint = options.get("endpoint_url") or None
    if endpoint is not None:
        _no_credentials(str(endpoint))
        _check_endpoint(str(endpoint))
    if url.hosts:
        if len(url.hosts) > 1:
            raise ConfigError("sqs:// takes one endpoint host, got several")
        host, port = url.hosts[0]
        shorthand = f"http://{host}" + (f":{port}" if port else "")
        if endpoint is None:
            endpoint = shorthand
        else:
            given = urlsplit(str(endpoint))
            if (given.hostname, given.port) != (host, port):
                raise ConfigError(
                    f"sqs:// host {host}:{port} and endpoint_url {endpoint} disagree; give one"
                )
    if endpoint is not None:
        endpoint = str(endpoint).rstrip("/")
    profile = options.get("profile") or None
    region = (
        options.get("region")
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or None
    )
    if region is None and endpoint is not None:
        region = "us-east-1"
    if region is None and profile is None:
        region = _profile_region(None)
    elif region is None:
        region = _profile_region(str(profile))
    if not region:
        raise ConfigError(
            "no AWS region: pass ?region=..., set AWS_REGION, or configure one in the profile"
        )
    mode = str(options.get("mode", "sns")).lower()
    if mode not in ("sns", "queue"):
        raise ConfigError(f"option mode must be 'sns' or 'queue', got {mode!r}")
    wait_time = int(number(options.get("wait_time", 20), "wait_time", 0, 20))
    default_limit = SNS_LIMIT if mode == "sns" else SQS_LIMIT
    return Settings(
        endpoint_url=endpoint,
        region=str(region),
        profile=str(profile) if profile else None,
        access_key=url.username,
        secret_key=url.password,
        mode=mode,
        fifo=flag(options.get("fifo", False), "fifo"),
        visibility_timeout=int(
            number(options.get("visibility_timeout", 30), "visibility_timeout", 1, 43_200)
        ),
        wait_time=wait_time,
        connect_timeout=number(options.get("connect_timeout", 2), "connect_timeout", 0.1),
        read_timeout=number(options.get("read_timeout", wait_time + 10), "read_timeout", 1),
        max_attempts=int(number(options.get("max_attempts", 2), "max_attempts", 1, 20)),
        max_pool_connections=int(
            number(options.get("max_pool_connections", 50), "max_pool_connections", 1)
        ),
        auto_create=flag(options.get("auto_create_topics", False), "auto_create_topics"),
        max_message_size=int(
            number(options.get("max_message_size", default_limit), "max_message_size", 1024)
        ),
        ack_linger=number(options.get("ack_linger", 0.005), "ack_linger", 0, 10),
    )


def _no_credentials(endpoint: str) -> None:
    """Refuse user info in endpoint_url: botocore logs the endpoint at DEBUG level, and
    SQS signs requests with keys, not with a URL password."""
    if "@" in endpoint:
        raise ConfigError(
            "endpoint_url must not contain credentials (user:password@): botocore would log "
            "them. Give the keys as sqs://KEY:SECRET@host:port (percent-encode them with "
            "urllib.parse.quote(key, safe='')), a ?profile=, or the AWS environment variables"
        )


def _profile_region(profile: str | None) -> str | None:
    """The region configured for a profile (botocore reads ~/.aws/config)."""
    from botocore.session import Session  # type: ignore[import-untyped]

    try:
        session = Session(profile=profile)
        region = session.get_config_variable("region")
    except Exception:  # a missing profile is reported when connecting
        return None
    return str(region) if region else None
