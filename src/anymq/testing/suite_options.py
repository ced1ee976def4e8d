"""Contract: option values keep their meaning; nonsense is a ConfigError, never a default.

The backend's own declarations (``anymq.options``) drive most of these tests: every option
it declares must refuse a wrong value, and an unknown name must list the declared ones.
"""

from __future__ import annotations

import pytest

import anymq
from anymq import plugins
from anymq.options import Bool, Options
from anymq.testing.context import TestContext


def _declared(ctx: TestContext) -> type[Options]:
    declared = plugins.load_options(anymq.URL.parse(ctx.url).scheme)
    assert declared is not None, (
        f"the {ctx.backend} backend declares no options: give its driver `declared = "
        "<an anymq.options.Options subclass>` (and BackendSpec(options=...))"
    )
    return declared


class OptionsContract:
    """``connect_timeout`` is an option of every backend: 0 seconds must not mean 10."""

    @pytest.mark.parametrize("value", [0, "0", "-1", "nan", "soon"])
    def test_connect_timeout_must_be_positive(self, ctx: TestContext, value: object) -> None:
        with pytest.raises(anymq.ConfigError, match="connect_timeout"):
            anymq.connect(ctx.url, connect_timeout=value)

    def test_positive_connect_timeout_is_accepted(self, ctx: TestContext) -> None:
        anymq.connect(ctx.url, connect_timeout=0.5)

    def test_misspelled_boolean_option_is_refused(self, ctx: TestContext) -> None:
        """``?flag=ture`` is an error naming the option and the accepted words, raised by
        ``connect()`` itself (nothing has connected), not a silent false."""
        declared = _declared(ctx)
        flags = [n for n, o in declared.in_scope("connect").items() if isinstance(o.kind, Bool)]
        if not flags:  # nothing to misread as false: a made-up flag must not pass silently
            ctx.observe("options.boolean", "no boolean connect option")
            url = anymq.URL.parse(ctx.url).with_query(anymq_made_up_flag="ture")
            with pytest.raises(anymq.ConfigError, match="anymq_made_up_flag"):
                anymq.connect(url)
            return
        url = anymq.URL.parse(ctx.url).with_query(**{flags[0]: "ture"})
        with pytest.raises(anymq.ConfigError) as info:
            anymq.connect(url)
        message = str(info.value)
        assert flags[0] in message
        assert "true or false" in message
        assert "'ture'" in message

    def test_every_declared_option_refuses_a_wrong_value(self, ctx: TestContext) -> None:
        """Each connect option's kind has a value it refuses ("ture", 0 seconds, 1.5 for a
        whole number, an empty text, a word outside the choices): connect() raises
        ConfigError naming the option and the accepted form."""
        declared = _declared(ctx)
        tried = 0
        for name, option in declared.in_scope("connect").items():
            bad = option.kind.bad_example
            with pytest.raises(anymq.ConfigError) as info:
                anymq.connect(ctx.url, **{name: bad})
            assert name in str(info.value), str(info.value)
            assert option.kind.expected in str(info.value), str(info.value)
            tried += 1
        assert tried > 0

    def test_unknown_option_lists_the_valid_ones(self, ctx: TestContext) -> None:
        declared = _declared(ctx)
        valid = sorted(declared.in_scope("connect"))
        typo = valid[0] + "x"
        with pytest.raises(anymq.ConfigError) as info:
            anymq.connect(ctx.url, **{typo: "1"})
        message = str(info.value)
        assert typo in message
        assert f"did you mean {valid[0]}?" in message
        assert all(name in message for name in valid), message

    async def test_unknown_client_options_are_refused_before_sending(
        self, ctx: TestContext
    ) -> None:
        """broker.producer()/consumer() check their options against the declarations."""
        declared = _declared(ctx)
        async with anymq.connect(ctx.url) as broker:
            with pytest.raises(anymq.ConfigError, match="no_such_option") as info:
                broker.producer(no_such_option=1)
            assert all(n in str(info.value) for n in declared.in_scope("producer"))
            group = ctx.group() if ctx.has(anymq.Feature.CONSUMER_GROUPS) else None
            with pytest.raises(anymq.ConfigError, match="no_such_option") as info:
                broker.consumer(ctx.name(), group, no_such_option=1)
            assert all(n in str(info.value) for n in declared.in_scope("consumer"))
