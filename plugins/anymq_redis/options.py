"""The options of redis://, declared once; this module imports no client library."""

from __future__ import annotations

from anymq.options import Bool, Option, Options, Seconds


class RedisOptions(Options):
    backend = "redis"

    connect_timeout = Option(Seconds(), 5.0, "seconds to connect and to wait for any answer")
    member_timeout = Option(
        Seconds(minimum=0.5),
        10.0,
        "seconds a group member may go unheard before its partitions move to the others, "
        "who then XCLAIM what it held unacked (a dead member's messages come back after "
        "this idle time)",
        scopes=("connect", "consumer"),
    )
    approximate_trim = Option(
        Bool(),
        False,
        "trim retention with MAXLEN ~ / MINID ~ (whole macro nodes: cheaper, keeps a little "
        "more than asked) instead of exactly",
        scopes=("connect", "topic"),
    )
