"""Bad registrations are ConfigErrors at the decorator, naming the handler and the fix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

import anymq
from anymq.errors import ConfigError

pytestmark = pytest.mark.anymq


@dataclass
class Order:
    id: int


class Opaque:
    """A class no decoder knows."""


def test_a_handler_that_is_not_async_is_refused() -> None:
    app = anymq.App()

    def handle(payload: Any) -> None: ...

    with pytest.raises(
        ConfigError, match=r"handler .*handle is not async: define it with 'async def'"
    ):
        app.handler("orders", group="g")(handle)
    assert app.handlers == []


def test_an_unknown_serializer_is_refused() -> None:
    app = anymq.App()

    async def handle(payload: Any) -> None: ...

    with pytest.raises(ConfigError, match=r"handle: unknown serializer 'yaml'; use one of"):
        app.handler("orders", serializer="yaml")(handle)


@pytest.mark.parametrize("annotation", [Opaque, "Opaque", complex, int | str])
def test_a_type_that_cannot_be_decoded_into_is_refused(annotation: Any) -> None:
    app = anymq.App()

    async def handle(payload: Any) -> None: ...

    handle.__annotations__["payload"] = annotation
    with pytest.raises(ConfigError, match=r"cannot decode a payload into .*; use a dataclass"):
        app.handler("orders")(handle)


def test_a_typed_payload_needs_a_serializer() -> None:
    app = anymq.App()

    async def handle(order: Order) -> None: ...

    with pytest.raises(ConfigError, match=r"annotated Order but the handler has no serializer"):
        app.handler("orders", serializer=None)(handle)


def test_an_unresolvable_annotation_is_refused() -> None:
    app = anymq.App()

    async def handle(order: Missing) -> None: ...  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(ConfigError, match=r"cannot resolve the handler's annotations"):
        app.handler("orders")(handle)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"concurrency": 0}, r"concurrency must be an int >= 1, got 0"),
        ({"concurrency": True}, r"concurrency must be an int >= 1, got True"),
        ({"buffer": -1}, r"buffer must be an int >= 1, got -1"),
        ({"group": 3}, r"group must be a non-empty str, got 3"),
        ({"publish_to": ""}, r"publish_to must be a non-empty str"),
        ({"on_poison": "ignore"}, r"on_poison must be 'dead_letter' or 'reject'"),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], message: str) -> None:
    app = anymq.App()

    async def handle(payload: Any) -> None: ...

    with pytest.raises(ConfigError, match=message):
        app.handler("orders", **options)(handle)


def test_a_handler_takes_the_payload_and_optionally_the_message() -> None:
    app = anymq.App()

    async def nothing() -> None: ...

    async def three(a: Any, b: Any, c: Any) -> None: ...

    for function in (nothing, three):
        with pytest.raises(ConfigError, match=r"takes the payload, and optionally the message"):
            app.handler("orders")(function)

    async def with_default(a: Any, b: Any, c: Any = None) -> None: ...

    assert app.handler("orders")(with_default) is with_default


def test_two_handlers_in_one_group_on_one_topic_are_refused() -> None:
    app = anymq.App()

    async def first(payload: Any) -> None: ...

    async def second(payload: Any) -> None: ...

    app.handler("orders", group="billing")(first)
    app.handler("orders", group="audit")(second)  # another group: fine
    with pytest.raises(
        ConfigError, match=r"first already handles topic 'orders' in group 'billing'"
    ):
        app.handler("orders", group="billing")(second)


async def test_an_app_without_handlers_does_not_start() -> None:
    with pytest.raises(ConfigError, match=r"no handlers; register one with @app.handler"):
        async with anymq.App("memory://"):
            pass
