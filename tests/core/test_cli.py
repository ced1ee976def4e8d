"""The anymq command: real subprocess runs, clear errors, exit codes."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

from anymq.cli import main


def _pythonpath() -> dict[str, str]:
    """Let the subprocess import the anymq under test (the worktree's, not an installed one)."""
    path = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": path} if path else {}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "anymq.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", **_pythonpath()},
    )


def test_backends_lists_every_registered_backend() -> None:
    done = run("backends")
    assert done.returncode == 0, done.stderr
    for scheme in ("memory://", "kafka://", "amqp://", "sqs://"):
        assert scheme in done.stdout
    assert "retains_consumed" in done.stdout


def test_demo_runs_on_memory() -> None:
    done = run("demo")
    assert done.returncode == 0, done.stderr
    assert "shipping got 12 of 12" in done.stdout
    assert "UnsupportedFeature" in done.stdout


def test_errors_are_one_line_exit_1_for_failures_2_for_usage() -> None:
    done = run("consume", "missing", "--url", "memory://cli")
    assert done.returncode == 1  # the work failed: the topic is not there
    assert "does not exist" in done.stderr
    assert "anymq topics create missing" in done.stderr  # the command, not the Python call
    assert "await broker" not in done.stderr
    assert "Traceback" not in done.stderr
    done = run("topics", "list", "--url", "kafka://127.0.0.1:1")
    assert done.returncode == 1, done.stderr  # an outage, not a typo
    assert "Traceback" not in done.stderr
    done = run("topics", "list")
    assert done.returncode == 2  # usage: no URL given
    assert "ANYMQ_URL" in done.stderr
    done = run("topics", "list", "--url", "nosuch://x")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr


def test_topics_produce_consume_in_one_process(capsys: object) -> None:
    # memory:// lives in one process, so drive main() directly for the roundtrip.
    assert main(["topics", "create", "cli-t", "--url", "memory://cli", "--partitions", "2"]) == 0
    assert main(["produce", "cli-t", "a", "b", "--key", "k", "--url", "memory://cli"]) == 0
    assert (
        main(
            [
                "consume",
                "cli-t",
                "--group",
                "g",
                "--start",
                "earliest",
                "--count",
                "2",
                "--url",
                "memory://cli",
                "--timeout",
                "1",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "key=b'k' a" in out
    assert "key=b'k' b" in out
    assert main(["topics", "delete", "cli-t", "--url", "memory://cli"]) == 0


def run_script(script: str) -> subprocess.CompletedProcess[str]:
    """Several CLI calls in one process (memory:// lives in one process), time-bounded."""
    return subprocess.run(
        [sys.executable, "-c", f"import sys\nfrom anymq.cli import main\n{script}"],
        capture_output=True,
        text=True,
        timeout=30,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", **_pythonpath()},
    )


def test_consume_refuses_a_timeout_that_is_not_finite_seconds() -> None:
    for bad in ("nan", "inf", "-1", "soon"):
        done = run_script(
            "main(['topics', 'create', 't', '--url', 'memory://cli'])\n"
            f"sys.exit(main(['consume', 't', '--url', 'memory://cli', '--timeout', {bad!r}]))"
        )
        assert done.returncode == 2, (bad, done.stdout, done.stderr)
        assert "--timeout" in done.stderr, done.stderr
        assert bad in done.stderr, done.stderr
        assert "Traceback" not in done.stderr


def run_bytes(script: str, stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    """Like run_script, with bytes in and out and a UTF-8 locale (strict decoding)."""
    return subprocess.run(
        [sys.executable, "-c", f"import sys\nfrom anymq.cli import main\n{script}"],
        input=stdin,
        capture_output=True,
        timeout=30,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", **_pythonpath()},
    )


ROUNDTRIP = (
    "main(['topics', 'create', 't', '--url', 'memory://cli'])\n"
    "code = main(['produce', 't', '--url', 'memory://cli'])\n"
    "print('produce exit', code, file=sys.stderr)\n"
    "print('---', flush=True)\n"
    "sys.exit(code or main(['consume', 't', '--url', 'memory://cli', '--start', 'earliest',"
    " '--timeout', '0.2', '--raw']))"
)


def test_produce_sends_stdin_lines_as_bytes_even_if_not_utf8() -> None:
    lines = [b"good", b"\xff\xfe not utf-8 \xc3", "ünïcødé ✓".encode(), b"", b"last"]
    done = run_bytes(ROUNDTRIP, b"\n".join(lines) + b"\n")
    assert b"Traceback" not in done.stderr, done.stderr.decode(errors="replace")
    assert b"produce exit 0" in done.stderr, done.stderr.decode(errors="replace")
    assert done.returncode == 0
    assert done.stdout.split(b"---\n")[1].split(b"\n")[:-1] == lines, done.stdout
    assert b"5 message(s)" in done.stderr


def test_produce_keeps_a_cr_and_takes_a_missing_final_newline_as_a_line_end() -> None:
    """A \\r is data (any byte but \\n round-trips); only \\n ends a line."""
    done = run_bytes(ROUNDTRIP, b"one\r\ntwo\nthree")
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert done.stdout.split(b"---\n")[1] == b"one\r\ntwo\nthree\n"


def test_produce_error_says_how_many_lines_were_sent() -> None:
    too_big = b"x" * (1024 * 1024 + 1)  # over memory://'s 1 MiB limit
    done = run_bytes(ROUNDTRIP, b"a\nb\n" + too_big + b"\nnever\n")
    assert done.returncode == 1
    stderr = " ".join(done.stderr.decode().split())  # rich wraps long lines
    assert "Traceback" not in stderr, stderr
    assert "stopped at line 3 of the input" in stderr, stderr
    assert "The 2 message(s) before it were sent, nothing after it" in stderr, stderr
    assert "produce exit 1" in stderr


def test_ctrl_c_while_produce_waits_on_stdin_exits_at_once() -> None:
    # The child says on stderr when a batch was sent: the test interrupts only then (a
    # fixed pause could land the Ctrl-C in "topics create" on a slow machine).
    script = (
        "import os, sys\nimport anymq.client as client\nfrom anymq.cli import main\n"
        "orig = client.Producer.send_batch\n"
        "async def send_batch(self, *args, **kwargs):\n"
        "    out = await orig(self, *args, **kwargs)\n"
        "    os.write(2, b'test: batch sent\\n')\n"
        "    return out\n"
        "client.Producer.send_batch = send_batch\n"
        "assert main(['topics', 'create', 't', '--url', 'memory://cli']) == 0\n"
        "sys.exit(main(['produce', 't', '--url', 'memory://cli']))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", **_pythonpath()},
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    try:
        proc.stdin.write(b"first\n")
        proc.stdin.flush()  # stdin stays open: the command waits for the next line
        assert proc.stderr is not None
        ready = b""
        deadline = time.monotonic() + 60
        while b"test: batch sent" not in ready and time.monotonic() < deadline:
            if select.select([proc.stderr], [], [], 0.2)[0]:
                ready += os.read(proc.stderr.fileno(), 4096)
        assert b"test: batch sent" in ready, ready.decode(errors="replace")
        time.sleep(0.2)  # back to waiting on stdin
        proc.send_signal(signal.SIGINT)
        started = time.monotonic()
        try:
            code = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            raise AssertionError("Ctrl-C was ignored while waiting on stdin") from None
        assert time.monotonic() - started < 5
        assert code == 130
        stderr = ready + proc.stderr.read()
        assert b"Traceback" not in stderr, stderr.decode(errors="replace")
        # the line was sent while stdin stayed open, and the summary says so
        assert b"interrupted: sent 1 message to t" in stderr, stderr.decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdin.close()


def test_consume_escapes_terminal_control_characters(capsys: object) -> None:
    evil = "\x1b]0;pwned\x07\x1b[2J\x9b31m\u202eevil\x7f\rover\nline"
    assert main(["topics", "create", "cli-esc", "--url", "memory://cli-esc"]) == 0
    assert main(["produce", "cli-esc", evil, "--key", "k\x1b[2J", "--url", "memory://cli-esc"]) == 0
    capsys.readouterr()  # type: ignore[attr-defined]
    args = ["consume", "cli-esc", "--start", "earliest", "--timeout", "0.2"]
    assert main([*args, "--url", "memory://cli-esc"]) == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    for control in ("\x1b", "\x07", "\x9b", "\u202e", "\x7f", "\r"):
        assert control not in out, f"{control!r} reached the terminal: {out!r}"
    assert "\\x1b]0;pwned\\x07\\x1b[2J" in out, out
    assert "\\u202eevil" in out
    assert out.count("\n") == 1, f"a newline in the value split the line: {out!r}"
    assert main(["topics", "delete", "cli-esc", "--url", "memory://cli-esc"]) == 0


def test_consume_help_says_how_to_get_the_raw_bytes() -> None:
    done = run("consume", "--help")
    assert done.returncode == 0
    assert "--raw" in done.stdout
    assert "escaped" in done.stdout


def test_backends_options_lists_the_declared_options_as_plain_lines() -> None:
    """Not on a terminal: a header and one tab-separated line per option, no table art."""
    from anymq import plugins

    done = run("backends", "--options")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "scheme\toption\ttype\tdefault\twhere\tmeaning"
    rows = [line.split("\t") for line in lines[1:]]
    assert all(len(row) == 6 for row in rows)
    for scheme in ("memory", "kafka", "amqp", "sqs"):
        declared = plugins.load_options(scheme)
        assert declared is not None
        listed = {row[1] for row in rows if row[0] == f"{scheme}://"}
        assert listed == set(declared.declared), scheme
    assert rows[[r[:2] for r in rows].index(["memory://", "auto_create_topics"])][:5] == [
        "memory://",
        "auto_create_topics",
        "bool",
        "false",
        "connect",
    ]
    assert not any(ch in done.stdout for ch in "┃━│─")


def test_backends_options_with_a_url_lists_that_backend_only() -> None:
    done = run("backends", "--options", "--url", "sqs://?region=us-east-1")
    assert done.returncode == 0, done.stderr
    assert {line.split("\t")[0] for line in done.stdout.splitlines()[1:]} == {"sqs://"}


def test_python_dash_m_anymq_is_the_anymq_command() -> None:
    """``python -m anymq`` runs the same CLI as the console script, under its own name."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root / "src"), str(root / "plugins")]))
    shown = subprocess.run(
        [sys.executable, "-m", "anymq", "--help"], env=env, capture_output=True, text=True
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("usage: anymq"), shown.stdout[:200]
    topics = subprocess.run(
        [sys.executable, "-m", "anymq", "topics", "list", "--url", "memory://"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert topics.returncode == 0, topics.stderr


def test_consume_without_count_reads_past_one_hundred_messages(capsys: object) -> None:
    """Without --count, consume reads until --timeout passes with nothing new (it stopped
    at exactly 100 with 'max_messages must be an int >= 1, got 0', exit 2)."""
    url = "memory://cli-many"
    assert main(["topics", "create", "many", "--url", url]) == 0
    values = [f"v{i}" for i in range(250)]
    assert main(["produce", "many", *values, "--url", url]) == 0
    capsys.readouterr()  # type: ignore[attr-defined]
    args = ["consume", "many", "--group", "g", "--start", "earliest", "--timeout", "0.5"]
    assert main([*args, "--url", url]) == 0
    captured = capsys.readouterr()  # type: ignore[attr-defined]
    assert "250 message(s)" in captured.err, captured.err
    assert sum(line.endswith(" v249") for line in captured.out.splitlines()) == 1


def test_consume_refuses_a_count_below_one() -> None:
    for bad in ("0", "-3"):
        done = run_script(
            "main(['topics', 'create', 't', '--url', 'memory://cli'])\n"
            f"sys.exit(main(['consume', 't', '--url', 'memory://cli', '--count', {bad!r}]))"
        )
        assert done.returncode == 2, (bad, done.stdout, done.stderr)
        assert "--count" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
