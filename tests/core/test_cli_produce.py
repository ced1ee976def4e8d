"""``anymq produce`` in pipelines: batches, one summary, keys, headers, partitions, JSON."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

from tests.core.cli_run import env, script, text

URL = "memory://cli-produce"


def produce_then_dump(produce_args: list[str], partitions: int = 1) -> str:
    """Produce (stdin) then write what the topic holds as JSON lines after a --- line."""
    return (
        "import asyncio, json, anymq\n"
        "async def setup():\n"
        f"    async with anymq.connect({URL!r}) as b:\n"
        f"        await b.create_topic('t', partitions={partitions})\n"
        "asyncio.run(setup())\n"
        f"code = main(['produce', 't', '--url', {URL!r}, *{produce_args!r}])\n"
        "print('produce exit', code, file=sys.stderr)\n"
        "print('---', flush=True)\n"
        f"sys.exit(code or main(['consume', 't', '--url', {URL!r}, '--start', 'earliest',"
        " '--timeout', '0.3', '--format', 'json']))"
    )


def records(done: subprocess.CompletedProcess[bytes]) -> list[dict[str, object]]:
    assert done.returncode == 0, text(done.stderr)
    return [json.loads(line) for line in done.stdout.split(b"---\n", 1)[1].splitlines()]


def test_produce_prints_one_summary_on_stderr_not_a_line_per_message() -> None:
    done = script(produce_then_dump([]), stdin=b"a\nb\nc\n")
    assert [r["value"] for r in records(done)] == ["a", "b", "c"]
    assert done.stdout.split(b"---\n")[0] == b""  # nothing per message on stdout
    assert b"sent to" not in done.stdout + done.stderr
    assert re.search(rb"sent 3 messages to t in \d+\.\d+ s \([\d,]+ msg/s\)", done.stderr), text(
        done.stderr
    )


def test_key_separator_splits_key_from_value_like_kcat_dash_k() -> None:
    done = script(produce_then_dump(["--key-separator", ":"]), stdin=b"k1:v1\nno key\nk3:a:b\n")
    got = [(r["key"], r["value"]) for r in records(done)]
    assert got == [("k1", "v1"), (None, "no key"), ("k3", "a:b")]


def test_headers_are_sent_with_every_message() -> None:
    done = script(
        produce_then_dump(["--header", "a=1", "--header", "b=x=y", "--header", "empty="]),
        stdin=b"v\n",
    )
    assert [r["headers"] for r in records(done)] == [{"a": "1", "b": "x=y", "empty": ""}]


def test_partition_sends_every_line_to_that_partition() -> None:
    done = script(produce_then_dump(["--partition", "2"], partitions=3), stdin=b"a\nb\n")
    assert [r["partition"] for r in records(done)] == [2, 2]


def test_partition_on_a_backend_without_partitions_is_refused_before_sending() -> None:
    done = script(
        "from anymq import plugins\n"
        "from tests.core.toy_backend import OneLogPlugin\n"
        "plugins.register(OneLogPlugin, name='onelog')\n"
        "sys.exit(main(['produce', 't', '--partition', '1', '--url', 'onelog://']))",
        stdin=b"a\n",
    )
    assert done.returncode == 2, text(done.stderr)
    assert done.stderr.startswith(b"error: "), text(done.stderr)
    assert b"--partition" in done.stderr
    assert b"partitions" in done.stderr
    assert b"Traceback" not in done.stderr


def test_json_input_round_trips_what_consume_format_json_wrote(tmp_path: Path) -> None:
    """consume --format json | produce --format json: key, value and headers survive,
    including bytes that are not UTF-8 and values holding newlines."""
    dump = tmp_path / "dump.jsonl"
    code = (
        "import asyncio, io, anymq\n"
        "async def setup():\n"
        f"    async with anymq.connect({URL!r}) as b:\n"
        "        await b.create_topic('src'); await b.create_topic('dst')\n"
        "        async with b.producer() as p:\n"
        "            await p.send('src', b'multi\\nline', key=b'k', headers={'h': b'v'})\n"
        "            await p.send('src', b'\\xff\\x00\\r', key=b'\\x80', headers={'b': b'\\xfe'})\n"
        "            await p.send('src', b'')\n"
        "asyncio.run(setup())\n"
        "real = sys.stdout\n"
        "sys.stdout = io.TextIOWrapper(open(%r, 'wb'))\n"
        f"assert main(['consume', 'src', '--url', {URL!r}, '--start', 'earliest', "
        "'--timeout', '0.3', '--format', 'json']) == 0\n"
        "sys.stdout.close(); sys.stdout = real\n"
        f"assert main(['produce', 'dst', '--url', {URL!r}, '--format', 'json',"
        " '--file', %r]) == 0\n"
        "async def check():\n"
        f"    async with anymq.connect({URL!r}) as b, b.consumer('dst', start='earliest') as c:\n"
        "        got = await c.receive(10, timeout=0.3)\n"
        "        print(repr([(m.key, m.body, m.headers) for m in got]))\n"
        "asyncio.run(check())\n"
    ) % (str(dump), str(dump))
    done = script(code)
    assert done.returncode == 0, text(done.stderr)
    assert done.stdout.decode().strip() == repr(
        [
            (b"k", b"multi\nline", {"h": b"v"}),
            (b"\x80", b"\xff\x00\r", {"b": b"\xfe"}),
            (None, b"", {}),
        ]
    )


def test_a_bad_json_line_stops_with_how_many_were_sent() -> None:
    done = script(
        produce_then_dump(["--format", "json"]),
        stdin=b'{"value": "a"}\n{"value": "b"}\nnot json\n{"value": "never"}\n',
    )
    assert b"produce exit 1" in done.stderr, text(done.stderr)
    stderr = " ".join(text(done.stderr).split())
    assert "line 3 of the input" in stderr, stderr
    assert "The 2 message(s) before it were sent, nothing after it" in stderr, stderr
    assert "Traceback" not in stderr


def test_a_file_shows_progress_on_a_terminal_and_nothing_in_a_pipe(tmp_path: Path) -> None:
    data = tmp_path / "lines.txt"
    data.write_bytes(b"".join(b"line %d\n" % i for i in range(20000)))
    code = (
        f"main(['topics', 'create', 't', '--url', {URL!r}])\n"
        f"sys.exit(main(['produce', 't', '--url', {URL!r}, '--file', {str(data)!r}]))"
    )
    parent, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-c", f"import sys\nfrom anymq.cli import main\n{code}"],
        stdout=subprocess.DEVNULL,
        stderr=child,
        env=env(COLUMNS="100", TERM="xterm"),
    )
    os.close(child)
    shown = b""
    while True:
        try:
            chunk = os.read(parent, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(parent)
    assert proc.wait(timeout=60) == 0, shown
    assert b"sent 20,000 messages" in shown or b"sent 20000 messages" in shown, shown
    assert b"msg/s" in shown, shown
    assert b"100%" in shown, shown  # the bar reached the end
    piped = script(code)
    assert piped.returncode == 0, text(piped.stderr)
    assert b"%" not in piped.stderr, text(piped.stderr)  # no bar when not on a terminal
