"""``@requires(...)``: run a contract test where the features are declared, else assert the
backend refuses them with UnsupportedFeature. Never a skip."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from anymq.features import Feature
from anymq.testing.context import TestContext
from anymq.testing.probes import assert_unsupported

F = TypeVar("F", bound=Callable[..., Awaitable[None]])


def requires(*features: Feature) -> Callable[[F], F]:
    """Mark a contract test as needing ``features``."""

    def decorate(test: F) -> F:
        @functools.wraps(test)
        async def wrapper(self: Any, ctx: TestContext, *args: Any, **kwargs: Any) -> None:
            missing = [f for f in features if not ctx.has(f)]
            if missing:
                for feature in missing:
                    await assert_unsupported(ctx, feature)
                ctx.outcome = "unsupported"
                return
            await test(self, ctx, *args, **kwargs)

        wrapper.anymq_requires = features  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
