"""The anymq command: real subprocess runs, clear errors, exit codes."""

from __future__ import annotations

import subprocess
import sys

from anymq.cli import main


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "anymq.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
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


def test_errors_are_one_line_with_exit_code_2() -> None:
    done = run("consume", "missing", "--url", "memory://cli")
    assert done.returncode == 2
    assert "does not exist" in done.stderr
    assert "Traceback" not in done.stderr
    done = run("topics", "list")
    assert done.returncode == 2
    assert "ANYMQ_URL" in done.stderr


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


def _pythonpath() -> dict[str, str]:
    import os

    path = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": path} if path else {}


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
