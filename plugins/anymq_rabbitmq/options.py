"""The options of the rabbitmq backend, declared once (anymq.options parses and documents them).

Producer and consumer options may also be given at connect (or on the URL): they are then
the defaults of every producer / consumer, as on every backend. The names anymq gives
broker objects are derived in ``naming.py``.
"""

from __future__ import annotations

from typing import Literal

from anymq.options import Bool, Choice, Int, Option, Options, Path, Scope, Seconds, Text

Mode = Literal["classic", "stream"]
QueueType = Literal["quorum", "classic"]
ExchangeType = Literal["topic", "direct", "fanout", "headers"]

EXCHANGE_TYPES: tuple[str, ...] = ("topic", "direct", "fanout", "headers")

PRODUCER: tuple[Scope, ...] = ("connect", "producer")
CONSUMER: tuple[Scope, ...] = ("connect", "consumer")


class RabbitOptions(Options):
    """Every option of amqp:// and amqps://."""

    backend = "rabbitmq"

    mode = Option(
        Choice("classic", "stream"),
        "classic",
        "classic (queues per group) or stream (a stream per topic, groups replay)",
    )
    queue_type = Option(
        Choice("quorum", "classic"),
        "quorum",
        "type of group / work queues; classic counts no deliveries: no dead letters",
    )
    exchange_type = Option(
        Choice(*EXCHANGE_TYPES),
        "topic",
        "exchange type of new topics: topic, direct, fanout or headers",
        scopes=("connect", "topic"),
    )
    connect_timeout = Option(
        Seconds(), 10.0, "seconds for the first connection; then BrokerUnavailable naming host:port"
    )
    publish_timeout = Option(
        Seconds(), 60.0, "seconds a send (or an admin step) may wait, reconnects included"
    )
    reconnect_interval = Option(
        Seconds(), 1.0, "seconds between reconnect attempts after a connection loss"
    )
    heartbeat = Option(Int(1), 30, "AMQP heartbeat in seconds")
    auto_create_topics = Option(Bool(), False, "create a missing topic on first send or subscribe")
    stream_segment_bytes = Option(
        Int(1),
        8 * 1024 * 1024,
        "stream mode: segment size of topic streams (smaller with a size retention)",
        shown_default="8 MiB",
    )
    name = Option(Text(), None, "connection name shown in the RabbitMQ management UI")
    cafile = Option(Path(), None, "amqps: CA bundle to verify the server")
    certfile = Option(Path(), None, "amqps: client certificate")
    keyfile = Option(Path(), None, "amqps: client key")
    no_verify_ssl = Option(
        Bool(), False, "amqps: skip server certificate verification (testing only)"
    )

    # Producer.
    confirm = Option(Bool(), True, "wait for publisher confirms", scopes=PRODUCER)
    mandatory = Option(
        Bool(),
        None,
        "raise PublishError when no queue takes a message",
        scopes=PRODUCER,
        shown_default="true in stream mode, else false",
    )
    persistent = Option(
        Bool(), True, "delivery_mode 2: messages survive a broker restart", scopes=PRODUCER
    )
    ttl = Option(
        Seconds(zero=True),
        None,
        "per-message TTL in seconds (AMQP expiration; 0: dropped unless a consumer takes it "
        "at once)",
        scopes=PRODUCER,
    )
    offsets = Option(
        Bool(),
        True,
        "stream mode: receipts carry stream offsets read back from the stream",
        scopes=PRODUCER,
    )

    # Consumer.
    exclusive = Option(
        Bool(),
        False,
        "basic.consume exclusive: refuse other members (their start raises ConfigError; "
        "quorum queues do not enforce it on RabbitMQ 3.10)",
        scopes=CONSUMER,
    )
    member_timeout = Option(
        Seconds(minimum=0.3),
        3.0,
        "partitioned topics: seconds without a heartbeat after which a group member counts "
        "as gone and its partitions move to the others (heartbeats every third of it)",
        scopes=CONSUMER,
    )
    handover_timeout = Option(
        Seconds(zero=True),
        5.0,
        "partitioned topics: seconds a member giving a partition up waits for the messages "
        "of it the application holds to be settled; then they go back to the queue "
        "(redelivered to the new owner, in order)",
        scopes=CONSUMER,
    )

    @property
    def ssl(self) -> dict[str, str]:
        """The TLS options as aio-pika's URL query takes them."""
        out = {k: str(self[k]) for k in ("cafile", "certfile", "keyfile") if k in self}
        if "no_verify_ssl" in self:
            out["no_verify_ssl"] = "1" if self.no_verify_ssl else "0"
        return out
