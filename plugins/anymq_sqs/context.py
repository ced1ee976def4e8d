"""What the producers, consumers and admin calls of one sqs broker share.

The bottom of the plugin's import graph above the SQS/SNS helpers: the settings, the
aiobotocore clients (made here, so the raw baseline connects exactly as anymq does) and the
topology (queues, topics, subscriptions and their caches) once connected. The driver builds
one and hands it to every producer and consumer, which never see the driver itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

from aiobotocore.config import AioConfig  # type: ignore[import-untyped]
from aiobotocore.session import AioSession  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from anymq.errors import BrokerUnavailable, ClosedError, ConfigError
from anymq.url import URL
from anymq_sqs import naming
from anymq_sqs.admin import Topology
from anymq_sqs.errors import translate
from anymq_sqs.options import DUMMY_KEY, DUMMY_SECRET, Settings, parse


def connect_deadline(settings: Settings) -> float:
    """Seconds the first request (``start``) may take in all: ``connect_timeout`` per attempt.

    botocore alone would wait ``read_timeout`` (long-poll sized, 30 s) per attempt for an
    endpoint that accepts TCP and never answers, then back off and retry: over a minute."""
    return settings.connect_timeout * settings.max_attempts


_SHARED: list[Any] = []


def _session(profile: str | None, explicit_keys: bool) -> Any:
    """A botocore session. With explicit keys one session is shared by the process: it caches
    the service models, so the next connect is ~50x cheaper. Credentials from the chain get
    a session of their own (refreshable ones hold an asyncio lock: one event loop each)."""
    if not explicit_keys or profile is not None:
        return AioSession(profile=profile) if profile else AioSession()
    if not _SHARED:
        _SHARED.append(AioSession())
    return _SHARED[0]


def _local_credentials() -> tuple[str, str, str | None] | None:
    """Credentials from the environment and the shared files, without the instance metadata
    and container providers (on a laptop they only add seconds of timeouts)."""
    from botocore.session import Session  # type: ignore[import-untyped]

    try:
        resolver = Session().get_component("credential_provider")
        for slow in ("iam-role", "container-role"):
            with contextlib.suppress(Exception):
                resolver.remove(slow)
        found = resolver.load_credentials()
    except Exception:  # a broken config file: fall back to the dummy keys
        return None
    if found is None:
        return None
    frozen = found.get_frozen_credentials()
    return frozen.access_key, frozen.secret_key, frozen.token


class SqsContext:
    """Settings, clients and (once started) the topology of one sqs:// connection."""

    def __init__(self, url: URL, options: Mapping[str, Any]) -> None:
        self.options = options
        """The connect-time options: the defaults of producer and consumer options."""
        self.settings = parse(url, options)
        self.queue_mode = self.settings.mode == "queue"
        self._stack: contextlib.AsyncExitStack | None = None
        self._topology: Topology | None = None
        self._closed = False

    @property
    def topology(self) -> Topology:
        if self._topology is None:
            raise ClosedError("the sqs broker is not connected (or closed)")
        return self._topology

    def check(self, topic: str) -> str:
        """``topic`` if SQS and SNS take it as a name (the same on every URL)."""
        return naming.check_topic(topic)

    def _client_kwargs(self) -> dict[str, Any]:
        s = self.settings
        kwargs: dict[str, Any] = {
            "region_name": s.region,
            "config": AioConfig(
                connect_timeout=s.connect_timeout,
                read_timeout=s.read_timeout,
                retries={"max_attempts": s.max_attempts, "mode": "standard"},
                max_pool_connections=s.max_pool_connections,
            ),
        }
        if s.endpoint_url:
            kwargs["endpoint_url"] = s.endpoint_url
        if (s.access_key is None) != (s.secret_key is None):
            raise ConfigError("give both the access key and the secret: sqs://KEY:SECRET@...")
        if s.access_key is not None:
            kwargs["aws_access_key_id"] = s.access_key
            kwargs["aws_secret_access_key"] = s.secret_key
        elif s.local and s.profile is None:
            # a local emulator: configured keys if there are any, else dummy ones (any keys
            # do), so tests run on a fresh machine without waiting for instance metadata
            found = _local_credentials()
            key, secret, token = found or (DUMMY_KEY, DUMMY_SECRET, None)
            kwargs["aws_access_key_id"] = key
            kwargs["aws_secret_access_key"] = secret
            if token:
                kwargs["aws_session_token"] = token
        return kwargs

    def client(self, service: str) -> Any:
        """An aiobotocore client for ``service`` that connects exactly as this broker does
        (endpoint, region, credentials, timeouts); enter it with ``async with``. The raw
        baseline of ``anymq compare`` uses it, so both sides talk to the same endpoint."""
        kwargs = self._client_kwargs()
        session = _session(self.settings.profile, "aws_access_key_id" in kwargs)
        return session.create_client(service, **kwargs)

    async def start(self) -> None:
        if self._closed:
            raise ClosedError("the sqs broker is closed")
        if self._topology is not None:
            return
        s = self.settings
        deadline = connect_deadline(s)
        stack = contextlib.AsyncExitStack()
        try:
            kwargs = self._client_kwargs()
            session = _session(s.profile, "aws_access_key_id" in kwargs)
            sqs = await stack.enter_async_context(session.create_client("sqs", **kwargs))
            sns = await stack.enter_async_context(session.create_client("sns", **kwargs))
            sts = await stack.enter_async_context(session.create_client("sts", **kwargs))
            async with asyncio.timeout(deadline):
                identity = await sts.get_caller_identity()
        except TimeoutError as exc:
            await stack.aclose()
            raise BrokerUnavailable.at(
                s.endpoint,
                f"no answer from SQS/SNS at {s.endpoint} within {deadline:g}s while connecting "
                f"(connect_timeout {s.connect_timeout:g}s x max_attempts {s.max_attempts}); "
                "the endpoint accepts connections but does not respond: is it the right "
                "host:port, and is the service up?",
            ) from exc
        except (ClientError, BotoCoreError) as exc:
            await stack.aclose()
            raise translate(exc, endpoint=s.endpoint, doing="connecting") from exc
        except BaseException:
            await stack.aclose()
            raise
        arn = str(identity.get("Arn", "arn:aws:"))
        partition = arn.split(":")[1] if arn.count(":") >= 2 else "aws"
        self._stack = stack
        self._topology = Topology(s, sqs, sns, str(identity["Account"]), partition or "aws")

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        stack, self._stack = self._stack, None
        self._topology = None
        if stack is not None:
            with contextlib.suppress(Exception):
                await stack.aclose()
