"""botocore exceptions → anymq errors, so callers only ever catch ``anymq`` exceptions."""

from __future__ import annotations

from botocore.exceptions import (  # type: ignore[import-untyped]
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    ReadTimeoutError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from anymq.errors import (
    AnyMQError,
    BrokerUnavailable,
    ConfigError,
    PublishError,
    TopicNotFound,
)

BACKEND = "sqs"

#: Error codes meaning "the queue / topic is not there".
NOT_FOUND = frozenset(
    {
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "NonExistentQueue",
        "NotFound",
        "NotFoundException",
        "ResourceNotFound",
        "ResourceNotFoundException",
    }
)
#: Error codes meaning "these credentials or this region are wrong".
AUTH = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "AuthorizationError",
        "InvalidClientTokenId",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
        "ExpiredToken",
        "ExpiredTokenException",
        "MissingAuthenticationToken",
        "InvalidSecurity",
    }
)
INVALID = frozenset(
    {
        "InvalidParameter",
        "InvalidParameterValue",
        "InvalidParameterException",
        "InvalidAttributeName",
        "InvalidAttributeValue",
        "InvalidMessageContents",
        "ValidationError",
        "ValidationException",
        "MissingParameter",
        "UnsupportedOperation",
        "AWS.SimpleQueueService.UnsupportedOperation",
    }
)


def code_of(exc: BaseException) -> str:
    """The AWS error code of a ClientError ('' for anything else)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def is_not_found(exc: BaseException) -> bool:
    return code_of(exc) in NOT_FOUND


def unavailable(endpoint: str, message: str) -> BrokerUnavailable:
    """BrokerUnavailable with ``host`` and ``port`` from ``endpoint`` (never credentials)."""
    host, _, port = endpoint.rpartition(":")
    return BrokerUnavailable(
        message,
        host=host or None,
        port=int(port) if port.isdigit() else None,
    )


def translate(
    exc: BaseException,
    *,
    endpoint: str,
    topic: str | None = None,
    doing: str = "calling SQS",
    publishing: bool = False,
) -> AnyMQError:
    """The anymq error for a botocore failure (raise it ``from exc``)."""
    if isinstance(exc, AnyMQError):
        return exc
    code = code_of(exc)
    if code in NOT_FOUND and topic is not None:
        return TopicNotFound(topic, BACKEND)
    if isinstance(exc, (BotoConnectionError, ReadTimeoutError)) or (
        isinstance(exc, BotoCoreError) and "connect" in type(exc).__name__.lower()
    ):
        return unavailable(endpoint, f"cannot reach SQS/SNS at {endpoint} while {doing}: {exc}")
    if isinstance(exc, NoCredentialsError):
        return ConfigError(
            "no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile "
            "(?profile=...) or a role, or put keys in the URL (sqs://KEY:SECRET@...)"
        )
    message = str(exc)
    if code in AUTH:
        return ConfigError(f"AWS refused the credentials or permissions while {doing}: {message}")
    if code in INVALID:
        if publishing:
            return PublishError(f"SQS/SNS refused the message while {doing}: {message}")
        return ConfigError(f"SQS/SNS refused a parameter while {doing}: {message}")
    if publishing:
        return PublishError(f"sending failed while {doing}: {message}")
    return AnyMQError(f"SQS/SNS failed while {doing}: {message}")
