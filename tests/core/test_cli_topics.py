"""``anymq topics create``: retention flags mean what the API means, 0 is refused clearly."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

import anymq
from anymq.cli import main


def _space() -> str:
    return f"memory://cli-topics-{uuid.uuid4().hex[:8]}"


def _exists(url: str, name: str) -> bool:
    async def check() -> bool:
        async with anymq.connect(url) as broker:
            return name in await broker.list_topics()

    return asyncio.run(check())


def _retention(url: str, name: str) -> anymq.Retention:
    async def describe() -> anymq.Retention:
        async with anymq.connect(url) as broker:
            return (await broker.describe_topic(name)).retention

    return asyncio.run(describe())


@pytest.mark.parametrize(
    ("flag", "value", "allowed"),
    [
        ("--retention-seconds", "0", "> 0"),
        ("--retention-seconds", "-5", "> 0"),
        ("--retention-seconds", "nan", "> 0"),
        ("--retention-bytes", "0", ">= 1"),
        ("--retention-bytes", "-1", ">= 1"),
    ],
)
def test_zero_or_negative_retention_is_refused_and_nothing_is_created(
    flag: str, value: str, allowed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _space()
    code = main(["topics", "create", "t0", "--url", url, flag, value])
    err = capsys.readouterr().err
    assert code == 2
    assert flag in err
    assert allowed in err
    assert not _exists(url, "t0")


def test_api_refuses_zero_retention_like_the_cli() -> None:
    with pytest.raises(anymq.ConfigError):
        anymq.Retention(time=timedelta(seconds=0))
    with pytest.raises(anymq.ConfigError):
        anymq.Retention(bytes=0)


def test_positive_retention_is_applied(capsys: pytest.CaptureFixture[str]) -> None:
    url = _space()
    args = ["topics", "create", "t1", "--url", url, "--retention-seconds", "0.5"]
    assert main([*args, "--retention-bytes", "4096"]) == 0
    assert "created" in capsys.readouterr().out
    retention = _retention(url, "t1")
    assert retention.time == timedelta(seconds=0.5)
    assert retention.bytes == 4096


def test_no_retention_flags_keep_the_broker_default() -> None:
    url = _space()
    assert main(["topics", "create", "t2", "--url", url]) == 0
    assert _retention(url, "t2").is_default
