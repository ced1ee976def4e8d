"""The redis backend's plugin, registered in code (``anymq.plugins.DEFAULT_PLUGINS``) and as
an ``anymq`` entry point; imports nothing heavy."""

from __future__ import annotations

from anymq.hookspecs import BackendSpec, hookimpl


@hookimpl
def anymq_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            name="redis",
            schemes=("redis", "rediss"),
            driver="anymq_redis.driver:RedisBroker",
            options="anymq_redis.options:RedisOptions",
            install_hint="pip install 'anymq[redis]'",
            description="Redis Streams: partitioned streams, consumer groups, replay, retention",
            compare_profile="anymq_redis.profile:PROFILE",
        )
    ]
