"""``anymq consume`` in pipelines: --format value|json|TEMPLATE, --follow, Ctrl-C."""

from __future__ import annotations

import base64
import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.core.cli_run import env, script, text

URL = "memory://cli-consume"
SETUP = (
    "import asyncio, anymq\n"
    "async def setup():\n"
    f"    async with anymq.connect({URL!r}) as b:\n"
    "        await b.create_topic('t')\n"
    "        async with b.producer() as p:\n"
    "            for value in (b'plain', b'two\\nlines'):\n"
    "                await p.send('t', value, key=b'k', headers={'h': b'1'})\n"
    "            await p.send('t', b'\\xff\\x00bin', key=b'\\xfe', headers={'x': b'\\x80'})\n"
    "asyncio.run(setup())\n"
)


def consume(*args: str) -> str:
    return (
        f"sys.exit(main(['consume', 't', '--url', {URL!r}, '--start', 'earliest', "
        f"'--timeout', '0.3', {', '.join(repr(a) for a in args)}]))"
    )


def test_format_value_writes_the_exact_bytes_and_raw_is_its_alias() -> None:
    for flag in (["--format", "value"], ["--raw"]):
        done = script(SETUP + consume(*flag))
        assert done.returncode == 0, text(done.stderr)
        assert done.stdout == b"plain\ntwo\nlines\n\xff\x00bin\n", done.stdout
        assert b"3 message(s)" in done.stderr  # the summary is not mixed into the data


def test_format_json_is_one_object_per_line_with_every_field() -> None:
    done = script(SETUP + consume("--format", "json"))
    assert done.returncode == 0, text(done.stderr)
    lines = done.stdout.splitlines()
    assert len(lines) == 3, done.stdout  # a newline inside a value stays inside the JSON
    first, second, third = (json.loads(line) for line in lines)
    assert set(first) >= {
        "topic",
        "partition",
        "offset",
        "key",
        "headers",
        "value",
        "timestamp",
        "delivery_count",
    }
    assert (first["topic"], first["partition"], first["offset"]) == ("t", 0, 0)
    assert (first["key"], first["value"], first["headers"]) == ("k", "plain", {"h": "1"})
    assert first["delivery_count"] == 1
    assert isinstance(first["timestamp"], int)  # milliseconds since the epoch
    assert "value_encoding" not in first
    assert second["value"] == "two\nlines"
    # bytes that are not UTF-8 are carried reversibly: base64, and the field says so
    assert third["value_encoding"] == "base64"
    assert base64.b64decode(third["value"]) == b"\xff\x00bin"
    assert third["key_encoding"] == "base64"
    assert base64.b64decode(third["key"]) == b"\xfe"
    assert third["headers_encoding"] == "base64"
    assert base64.b64decode(third["headers"]["x"]) == b"\x80"


def test_format_template_fills_in_fields_and_writes_bytes_in_a_pipe() -> None:
    done = script(SETUP + consume("--format", "{offset} {key}\\t{value}|{headers}"))
    assert done.returncode == 0, text(done.stderr)
    lines = done.stdout.split(b"\n")
    assert lines[0] == b'0 k\tplain|{"h":"1"}', lines
    assert lines[1:3] == [b"1 k\ttwo", b'lines|{"h":"1"}']  # piped: the bytes, unescaped
    assert lines[3].startswith(b"2 \xfe\t\xff\x00bin|"), lines


def run_on_terminal(code: str) -> tuple[int, bytes]:
    """Run with stdout on a pseudo-terminal; returns the exit code and what it showed."""
    parent, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-c", f"import sys\nfrom anymq.cli import main\n{code}"],
        stdout=child,
        stderr=subprocess.PIPE,
        env=env(COLUMNS="200"),
    )
    os.close(child)
    shown = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([parent], [], [], 0.2)
        if ready:
            try:
                data = os.read(parent, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            shown += data
        elif proc.poll() is not None:
            break
    os.close(parent)
    return proc.wait(timeout=30), shown


def test_template_and_json_on_a_terminal_show_control_characters_escaped() -> None:
    evil = (
        "import asyncio, anymq\n"
        "async def evil():\n"
        f"    async with anymq.connect({URL!r}) as b:\n"
        "        await b.create_topic('t')\n"
        "        async with b.producer() as p:\n"
        "            await p.send('t', b'\\x1b]0;pwned\\x07\\xc2\\x9b\\xe2\\x80\\xaeok',"
        " key=b'\\x1b[2J')\n"
        "asyncio.run(evil())\n"
    )
    setup = evil
    for fmt in ("{key} {value}", "json"):
        code, shown = run_on_terminal(setup + consume("--format", fmt))
        assert code == 0, shown
        for control in (b"\x1b", b"\x07", b"\xc2\x9b", b"\xe2\x80\xae"):
            assert control not in shown, (fmt, shown)
        assert b"pwned" in shown


def test_follow_waits_past_idle_and_ctrl_c_ends_it_with_130() -> None:
    code = (
        SETUP + f"sys.exit(main(['consume', 't', '--url', {URL!r}, '--start', 'earliest', "
        "'--follow', '--format', 'value']))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", f"import sys\nfrom anymq.cli import main\n{code}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env(),
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    try:
        seen = b""
        deadline = time.monotonic() + 20
        while seen.count(b"\n") < 4 and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.2)
            if ready:
                seen += os.read(proc.stdout.fileno(), 4096)
        assert seen.count(b"\n") == 4, seen
        time.sleep(2)  # idle: a --follow consumer keeps waiting
        assert proc.poll() is None, "consume --follow stopped on an idle topic"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 130
        stderr = proc.stderr.read()
        assert b"Traceback" not in stderr, text(stderr)
        assert b"3 message(s)" in stderr, text(stderr)  # the summary still comes
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_follow_and_timeout_together_are_a_usage_error() -> None:
    done = script(SETUP + consume("--follow"))
    assert done.returncode == 2, text(done.stderr)
    assert b"--follow" in done.stderr
    assert b"Traceback" not in done.stderr


def test_a_closed_pipe_ends_consume_quietly(tmp_path: Path) -> None:
    """``anymq consume ... | head -1``: the reader left, so consume stops without noise."""
    program = tmp_path / "consume.py"
    program.write_text(f"import sys\nfrom anymq.cli import main\n{SETUP}{consume('--raw')}")
    done = subprocess.run(
        ["/bin/sh", "-c", f"{sys.executable} {program} | head -1"],
        capture_output=True,
        env=env(),
        timeout=60,
    )
    assert done.stdout == b"plain\n"
    assert b"Traceback" not in done.stderr, text(done.stderr)
    assert b"error" not in done.stderr, text(done.stderr)
