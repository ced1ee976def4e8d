"""URL and options of ``sqs://``, checked once so the rest of the backend trusts them.

sqs://                                    AWS, credentials/region from the normal chain
sqs://?region=eu-west-1&profile=dev       AWS with a profile
sqs://KEY:SECRET@?region=eu-west-1        AWS with keys in the URL (never shown)
sqs://127.0.0.1:4566                      shorthand for endpoint_url=http://127.0.0.1:4566
sqs://?endpoint_url=http://127.0.0.1:4566&region=us-east-1
sqs://127.0.0.1:4566?fifo=true            FIFO mode: every topic FIFO (key order, no delays)
sqs://127.0.0.1:4566?mode=queue           one queue per topic, no SNS
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from anymq.errors import ConfigError
from anymq.options import Bool, Choice, Int, Option, Options, Scope, Seconds, Text
from anymq.url import URL, address, mask_url_password

SNS_LIMIT = 262_144
"""SNS payload limit (body + attributes); moto 5.2 enforces it on the body."""
SQS_LIMIT = 1_048_576
"""SQS payload limit since 2025 (moto 5.2 enforces it on the body); was 256 KiB."""

#: Credentials used against a local endpoint when none are configured (moto takes any).
DUMMY_KEY = "anymq-local"
DUMMY_SECRET = "anymq-local"

CONSUMER: tuple[Scope, ...] = ("connect", "consumer")


class SqsOptions(Options):
    """Every option of sqs://. ``visibility_timeout`` and ``wait_time`` given at connect are
    the defaults of every consumer; producers and topics take none."""

    backend = "sqs"

    region = Option(
        Text(),
        None,
        "AWS region",
        shown_default="AWS_REGION, AWS_DEFAULT_REGION, the profile's; us-east-1 locally",
    )
    profile = Option(Text(), None, "AWS profile from ~/.aws/config")
    endpoint_url = Option(
        Text(),
        None,
        "SQS, SNS and STS endpoint (moto, LocalStack), http(s)://host[:port]; no credentials in it",
        shown_default="AWS",
    )
    mode = Option(
        Choice("sns", "queue"),
        "sns",
        "sns (topic = SNS topic, group = subscribed queue) or queue (one queue per topic)",
    )
    fifo = Option(
        Bool(),
        False,
        "every topic FIFO (key order also on one-partition topics, no delays); without it "
        "only partitioned topics are",
    )
    visibility_timeout = Option(
        Int(1, 43_200), 30, "seconds a received message stays invisible", scopes=CONSUMER
    )
    wait_time = Option(
        Int(0, 20),
        20,
        "longest long poll in seconds; close waits for a running long poll to end (at most "
        "the rest of its wait_time + 2 s), so a smaller wait_time makes close quicker",
        scopes=CONSUMER,
    )
    connect_timeout = Option(
        Seconds(minimum=0.1),
        2.0,
        "seconds to connect; start() gets connect_timeout x max_attempts seconds in all, "
        "then raises BrokerUnavailable",
    )
    read_timeout = Option(
        Seconds(minimum=1),
        None,
        "seconds to wait for a response",
        shown_default="wait_time + 10",
    )
    max_attempts = Option(
        Int(1, 20), 2, "attempts per request, including the first (botocore standard retries)"
    )
    max_pool_connections = Option(Int(1), 50, "HTTP connections per client")
    auto_create_topics = Option(Bool(), False, "create a missing topic on send / consume")
    max_message_size = Option(
        Int(1024),
        None,
        "the service's payload limit in bytes",
        shown_default="262144 (sns), 1048576 (queue)",
    )
    ack_linger = Option(
        Seconds(zero=True, maximum=10),
        0.005,
        "seconds acks wait to be batched into one DeleteMessageBatch",
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
            return address(parts.hostname or "", port)
        return f"sqs.{self.region}.amazonaws.com:443"


def _check_endpoint(endpoint: str) -> None:
    """http(s)://host[:port] with a numeric port, checked before anything reads its parts."""
    try:
        parts = urlsplit(endpoint)
    except ValueError:  # urllib: "Invalid IPv6 URL" (an unclosed '[')
        raise ConfigError(
            f"endpoint_url {mask_url_password(endpoint)!r} is not a URL: an IPv6 address goes in "
            "brackets, http://[address]:port"
        ) from None
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
    if parts.query or parts.fragment or endpoint.endswith(("?", "#")):
        # botocore logs the endpoint, query included, at DEBUG level; an SQS endpoint takes
        # no query, so one here is a mistake or a secret in the wrong place.
        raise ConfigError(
            f"endpoint_url takes no query or fragment ('?...' or '#...'), got "
            f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}?…: give "
            "http(s)://host[:port]; credentials go in sqs://KEY:SECRET@host:port"
        )


#: Settings taken as the options give them (the others are derived in :func:`parse`).
_AS_GIVEN = (
    "mode",
    "fifo",
    "visibility_timeout",
    "wait_time",
    "connect_timeout",
    "max_attempts",
    "max_pool_connections",
    "ack_linger",
)


def parse(url: URL, options: Mapping[str, Any]) -> Settings:
    """Settings from the URL and the options (keyword options win over URL ones)."""
    values = SqsOptions.parse(options)
    endpoint = values.endpoint_url
    if endpoint is not None:
        _no_credentials(endpoint)
        _check_endpoint(endpoint)
    if url.hosts:
        if len(url.hosts) > 1:
            raise ConfigError("sqs:// takes one endpoint host, got several")
        host, port = url.hosts[0]
        shorthand = f"http://{address(host, port)}"
        if endpoint is None:
            endpoint = shorthand
        else:
            given = urlsplit(endpoint)
            if (given.hostname, given.port) != (host, port):
                raise ConfigError(
                    f"sqs:// host {address(host, port)} and endpoint_url {endpoint} disagree; "
                    "give one"
                )
    if endpoint is not None:
        endpoint = endpoint.rstrip("/")
    profile = values.profile
    region = (
        values.region
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or None
    )
    if region is None and endpoint is not None:
        region = "us-east-1"
    if region is None:
        region = _profile_region(profile)
    if not region:
        raise ConfigError(
            "no AWS region: pass ?region=..., set AWS_REGION, or configure one in the profile"
        )
    default_limit = SNS_LIMIT if values.mode == "sns" else SQS_LIMIT
    read_timeout = values.read_timeout
    return Settings(
        endpoint_url=endpoint,
        region=region,
        profile=profile,
        access_key=url.username,
        secret_key=url.password,
        read_timeout=values.wait_time + 10 if read_timeout is None else read_timeout,
        auto_create=values.auto_create_topics,
        max_message_size=values.max_message_size or default_limit,
        **{name: getattr(values, name) for name in _AS_GIVEN},
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
