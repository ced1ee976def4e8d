"""anymq: one async API for Kafka, RabbitMQ, SQS and an in-memory log.

async with anymq.connect("memory://") as broker:
    await broker.create_topic("orders", partitions=3)
    async with broker.producer() as producer:
        await producer.send("orders", b"body", key=b"user-1")
"""

from typing import TYPE_CHECKING, Any

from anymq.client import Broker, Consumer, Producer, connect
from anymq.errors import (
    AnyMQError,
    AuthenticationError,
    BrokerError,
    BrokerUnavailable,
    ClosedError,
    ConfigError,
    DeliveryUncertain,
    InvalidTopicName,
    MessageTooLarge,
    PublishError,
    SerializationError,
    TopicNotFound,
    UnknownBackend,
    UnsupportedFeature,
)
from anymq.features import Capabilities, Feature, HeaderRule, NameRule
from anymq.message import Message, Receipt, Received
from anymq.model import GroupInfo, PartitionLag, Position, Retention, TopicInfo
from anymq.serializers import JsonSerializer, Serializer, StrSerializer
from anymq.url import URL

if TYPE_CHECKING:
    from anymq.runtime import UNLIMITED, App, Backoff, Health

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """``anymq.App`` (and its ``Backoff``, ``Health``, ``UNLIMITED``) are imported on first
    use: a plain client never loads the runtime."""
    if name in ("App", "Backoff", "Health", "UNLIMITED"):
        from anymq import runtime

        return getattr(runtime, name)
    raise AttributeError(f"module 'anymq' has no attribute {name!r}")


__all__ = [
    "URL",
    "App",
    "AnyMQError",
    "AuthenticationError",
    "Backoff",
    "Broker",
    "BrokerError",
    "BrokerUnavailable",
    "Capabilities",
    "ClosedError",
    "ConfigError",
    "Consumer",
    "DeliveryUncertain",
    "Feature",
    "GroupInfo",
    "HeaderRule",
    "Health",
    "InvalidTopicName",
    "JsonSerializer",
    "Message",
    "MessageTooLarge",
    "NameRule",
    "PartitionLag",
    "Position",
    "Producer",
    "PublishError",
    "Receipt",
    "Received",
    "Retention",
    "SerializationError",
    "Serializer",
    "StrSerializer",
    "TopicInfo",
    "TopicNotFound",
    "UNLIMITED",
    "UnknownBackend",
    "UnsupportedFeature",
    "connect",
]
