"""botocore exceptions → anymq errors, so callers only ever catch ``anymq`` exceptions.

    botocore                                         anymq
    ClientError, code in NOT_FOUND (with a topic)    TopicNotFound
    ClientError, code in AUTH or HTTP 403            AuthenticationError
    NoCredentialsError                               ConfigError (nothing to send)
    EndpointConnectionError, ConnectTimeoutError     BrokerUnavailable (nothing was sent)
    ReadTimeoutError, ConnectionClosedError          DeliveryUncertain when sending (the
                                                     request was written), else
                                                     BrokerUnavailable
    ClientError, code in INVALID                     PublishError when sending, else ConfigError
    ClientError, code *DeletedRecently               BrokerError (retriable: wait 60 s)
    anything else                                    PublishError when sending, else BrokerError;
                                                     retriable for throttling and HTTP 5xx

moto_server, asked with bad keys while it checks them, answers SQS's JSON protocol with an
XML body that botocore cannot parse: the code is then just "403", hence the status check.
"""

from __future__ import annotations

from botocore.exceptions import (  # type: ignore[import-untyped]
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    NoCredentialsError,
    ReadTimeoutError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from anymq.errors import (
    AnyMQError,
    AuthenticationError,
    BrokerError,
    BrokerUnavailable,
    ConfigError,
    DeliveryUncertain,
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
#: Error codes meaning "too many requests or a server fault: try again later".
TRANSIENT = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "KMSThrottlingException",
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


def status_of(exc: BaseException) -> int:
    """The HTTP status of a ClientError (0 for anything else)."""
    if isinstance(exc, ClientError):
        return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return 0


def is_not_found(exc: BaseException) -> bool:
    return code_of(exc) in NOT_FOUND


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
    if isinstance(exc, (ReadTimeoutError, ConnectionClosedError)) and publishing:
        return DeliveryUncertain(
            f"SQS/SNS at {endpoint} did not answer while {doing} ({type(exc).__name__}); "
            "the message may or may not be stored"
        )
    if isinstance(exc, (BotoConnectionError, ReadTimeoutError, ConnectionClosedError)) or (
        isinstance(exc, BotoCoreError) and "connect" in type(exc).__name__.lower()
    ):
        message = f"cannot reach SQS/SNS at {endpoint} while {doing}: {exc}"
        return BrokerUnavailable.at(endpoint, message)
    if isinstance(exc, NoCredentialsError):
        return ConfigError(
            "no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile "
            "(?profile=...) or a role, or put keys in the URL (sqs://KEY:SECRET@...)"
        )
    message = str(exc)
    if code in AUTH or status_of(exc) == 403:
        return AuthenticationError(
            f"AWS refused the credentials or permissions while {doing} ({code or 'HTTP 403'}); "
            "check the access key and secret (sqs://KEY:SECRET@..., a profile or the "
            "environment), the region, and the IAM policy"
        )
    if code in INVALID:
        if publishing:
            return PublishError(f"SQS/SNS refused the message while {doing}: {message}")
        return ConfigError(f"SQS/SNS refused a parameter while {doing}: {message}")
    if "DeletedRecently" in code:
        return BrokerError(
            f"SQS refuses {doing} within 60 s of deleting that queue; retry in a minute",
            retriable=True,
        )
    retriable = code in TRANSIENT or status_of(exc) >= 500
    if publishing:
        return PublishError(f"sending failed while {doing}: {message}", retriable=retriable)
    return BrokerError(f"SQS/SNS failed while {doing}: {message}", retriable=retriable)
