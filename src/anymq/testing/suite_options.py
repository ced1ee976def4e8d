"""Contract: option values keep their meaning; nonsense is a ConfigError, never a default."""

from __future__ import annotations

import pytest

import anymq
from anymq.testing.context import TestContext


class OptionsContract:
    """``connect_timeout`` is an option of every backend: 0 seconds must not mean 10."""

    @pytest.mark.parametrize("value", [0, "0", "-1", "nan", "soon"])
    def test_connect_timeout_must_be_positive(self, ctx: TestContext, value: object) -> None:
        with pytest.raises(anymq.ConfigError, match="connect_timeout"):
            anymq.connect(ctx.url, connect_timeout=value)

    def test_positive_connect_timeout_is_accepted(self, ctx: TestContext) -> None:
        anymq.connect(ctx.url, connect_timeout=0.5)
