"""The options of nats://, declared once; this module imports no client library."""

from __future__ import annotations

from anymq.options import Choice, Int, Option, Options, Seconds


class NatsOptions(Options):
    backend = "nats"

    connect_timeout = Option(
        Seconds(), 5.0, "seconds to wait for the server to answer a connect or a JetStream request"
    )
    publish_timeout = Option(
        Seconds(),
        5.0,
        "seconds to wait for JetStream's ack of a send; past it the send is DeliveryUncertain",
        scopes=("connect", "producer"),
    )
    ack_wait = Option(
        Seconds(),
        5.0,
        "seconds before the messages of a member that died without closing go to the group "
        "again (a live member keeps what it holds: it sends progress); applies when the "
        "group is created",
        scopes=("connect", "consumer"),
    )
    storage = Option(
        Choice("file", "memory"),
        "file",
        "where a new topic's stream keeps its messages",
        scopes=("connect", "topic"),
    )
    replicas = Option(
        Int(1, 5),
        1,
        "copies of a new topic's stream in a JetStream cluster",
        scopes=("connect", "topic"),
    )
