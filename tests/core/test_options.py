"""anymq.options: one strict parser per type, and declarations that drive parsing."""

from __future__ import annotations

import math
import pathlib

import pytest

from anymq.errors import ConfigError
from anymq.options import (
    Bool,
    Choice,
    Int,
    Kind,
    Option,
    Options,
    Path,
    Refused,
    Seconds,
    Table,
    Text,
    markdown_table,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        *[(v, True) for v in ("true", "TRUE", "True", "1", "yes", "YES", "on", " On ", True, 1)],
        *[(v, False) for v in ("false", "FALSE", "0", "no", "off", "Off", False, 0)],
    ],
)
def test_bool_spellings(value: object, expected: bool) -> None:
    assert Bool()(value) is expected


@pytest.mark.parametrize("value", ["ture", "", " ", "2", "y", "n", "tru", "enabled", 2, 0.0, None])
def test_bool_refuses_everything_else(value: object) -> None:
    with pytest.raises(Refused):
        Bool()(value)


@pytest.mark.parametrize(("value", "expected"), [("0.25", 0.25), (3, 3.0), ("1e1", 10.0)])
def test_seconds_accepts_finite_positive_numbers(value: object, expected: float) -> None:
    assert Seconds()(value) == expected


@pytest.mark.parametrize("value", ["0", 0, 0.0, "-1", "nan", "inf", math.inf, "", "soon", True])
def test_seconds_refuses_zero_negative_and_nonsense(value: object) -> None:
    with pytest.raises(Refused):
        Seconds()(value)


def test_seconds_with_zero_and_bounds() -> None:
    assert Seconds(zero=True)("0") == 0.0
    with pytest.raises(Refused):
        Seconds(zero=True)("-0.5")
    bounded = Seconds(minimum=0.1, maximum=10)
    assert bounded("0.1") == 0.1
    for bad in ("0.05", "10.5"):
        with pytest.raises(Refused):
            bounded(bad)
    assert bounded.expected == "a number of seconds between 0.1 and 10"
    assert Seconds().expected == "a number of seconds > 0"


@pytest.mark.parametrize(("value", "expected"), [("5", 5), (7, 7), (8.0, 8), (" 9 ", 9)])
def test_int_accepts_whole_numbers(value: object, expected: int) -> None:
    assert Int(1, 10)(value) == expected


@pytest.mark.parametrize("value", ["1.5", 1.5, "1e1", "", "x", True, "0", "11", 11])
def test_int_refuses_fractions_bools_and_out_of_range(value: object) -> None:
    with pytest.raises(Refused):
        Int(1, 10)(value)


def test_choice_returns_the_declared_spelling() -> None:
    kind = Choice("PLAIN", "SCRAM-SHA-256")
    assert kind("plain") == "PLAIN"
    assert kind(" scram-sha-256 ") == "SCRAM-SHA-256"
    for bad in ("", "plain2", 1):
        with pytest.raises(Refused):
            kind(bad)
    assert kind.expected == "one of PLAIN, SCRAM-SHA-256"


def test_text_path_and_table() -> None:
    assert Text()("x") == "x"
    assert Path()(pathlib.Path("/tmp/ca.pem")) == "/tmp/ca.pem"
    assert dict(Table()({"a": 1})) == {"a": "1"}
    for kind, bad in ((Text(), ""), (Text(), 3), (Path(), ""), (Table(), "a=b")):
        with pytest.raises(Refused):
            kind(bad)


@pytest.mark.parametrize(
    "kind", [Bool(), Seconds(), Seconds(zero=True), Int(1), Choice("a"), Text()]
)
def test_every_kind_refuses_its_bad_example(kind: Kind[object]) -> None:
    with pytest.raises(Refused):
        kind(kind.bad_example)


class Toy(Options):
    backend = "toy"

    flag = Option(Bool(), False, "a flag")
    wait = Option(Seconds(), 1.5, "a timeout", scopes=("connect", "consumer"))
    token = Option(Text(), None, "a secret", secret=True)
    size = Option(Int(1), None, "bytes", scopes=("producer",))


def test_parse_gives_a_typed_frozen_object_with_defaults() -> None:
    opts = Toy.parse({"flag": "yes"})
    assert opts.flag is True
    assert opts.wait == 1.5
    assert dict(opts) == {"flag": True}  # the Mapping holds what was given
    with pytest.raises(AttributeError):
        opts.flag = False  # type: ignore[misc]
    with pytest.raises(AttributeError, match="size is not a connect option of toy"):
        _ = opts.size


def test_errors_name_option_value_form_and_backend_and_mask_secrets() -> None:
    with pytest.raises(ConfigError) as info:
        Toy.parse({"flag": "ture"})
    assert str(info.value) == (
        "option flag of the toy backend must be true or false (or 1/0, yes/no, on/off), got 'ture'"
    )
    with pytest.raises(ConfigError) as secret:
        Toy.parse({"token": ""})
    assert "token" in str(secret.value)
    assert "''" not in str(secret.value)
    assert "***" in str(secret.value)
    assert "s3cr3t" not in repr(Toy.parse({"token": "s3cr3t"}))


def test_unknown_names_list_the_valid_ones_with_a_suggestion() -> None:
    with pytest.raises(ConfigError) as info:
        Toy.parse({"flagg": "1"})
    assert "flagg (did you mean flag?)" in str(info.value)
    assert "valid: flag, token, wait" in str(info.value)


def test_connect_values_are_client_defaults_and_the_client_wins() -> None:
    connect = Toy.parse({"wait": "3"})
    assert Toy.parse({}, "consumer", defaults=connect).wait == 3.0
    assert Toy.parse({"wait": 4}, "consumer", defaults=connect).wait == 4.0
    with pytest.raises(ConfigError, match=r"give it to broker\.producer\(\)"):
        Toy.parse({"size": 5})


def test_none_means_not_given() -> None:
    assert Toy.parse({"wait": None}).wait == 1.5


def test_markdown_table_lists_every_option() -> None:
    table = markdown_table(Toy)
    assert "| `wait` | seconds > 0 | `1.5` | connect, consumer | a timeout |" in table
    assert "| `token` | str, secret | - | connect | a secret |" in table
