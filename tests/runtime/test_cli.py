"""``anymq run MODULE:APP``: what it loads, and the errors for what it cannot."""

from __future__ import annotations

import pytest

from anymq.cli import main
from anymq.errors import ConfigError
from anymq.runtime.cli import load
from tests.runtime import apps


def test_load_finds_the_app() -> None:
    assert load("tests.runtime.apps:stuck") is apps.stuck


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("tests.runtime.apps", r"module 'tests.runtime.apps' has no attribute 'app'"),
        ("tests.runtime.apps:nope", r"has no attribute 'nope'"),
        ("tests.runtime.apps:not_an_app", r"is a object, not an anymq.App"),
        ("tests.runtime.nowhere:app", r"cannot import 'tests.runtime.nowhere': no such module"),
        (":app", r"expected MODULE:APP"),
        ("x:1bad", r"expected MODULE:APP"),
    ],
)
def test_load_says_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(spec)


def test_a_bad_app_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "tests.runtime.apps:nope", "--url", "memory://"]) == 2
    assert "has no attribute 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--drain-timeout", "-1"], "drain_timeout must be a number of seconds >= 0"),
        (["--health-port", "70000"], "--health-port must be 0..65535"),
    ],
)
def test_bad_run_options_are_usage_errors(
    option: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "tests.runtime.apps:sleepy", "--url", "memory://", *option]) == 2
    assert message in capsys.readouterr().err
