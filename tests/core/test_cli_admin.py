"""``anymq topics ...`` and ``anymq groups ...``: own help per subcommand, output a script can
parse (tab-separated with a header line in a pipe, ``--format json``), real subprocess runs.

memory:// lives in one process, so each test drives several commands in one subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.core.cli_run import SCRIPT


def _env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {"COLUMNS": "200", "PATH": "/usr/bin:/bin", **({"PYTHONPATH": path} if path else {})}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
    )


SETUP = """
import sys
from anymq.cli import main

from tests.core.cli_run import SCRIPT
url = 'memory://cli-admin'
def quiet(*args):  # set-up commands: their own output is not what is tested
    import contextlib, io
    sink = io.TextIOWrapper(io.BytesIO())  # consume writes message bytes to .buffer
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(io.StringIO()):
        assert main([*args, '--url', url]) == 0, args
quiet('topics', 'create', 'orders', '--partitions', '2', '--retention-seconds', '60')
quiet('topics', 'create', 'other')
quiet('produce', 'orders', 'a', 'b', 'c', '--key', 'k')
quiet('consume', 'orders', '--group', 'billing', '--start', 'earliest', '--count', '3',
      '--timeout', '1')
quiet('consume', 'other', '--group', 'elsewhere', '--start', 'earliest', '--timeout', '0.1')
print('---', flush=True)
"""


def run_after_setup(*args: str) -> subprocess.CompletedProcess[str]:
    """The command ``args`` (with the set-up's --url) after the set-up, in one process."""
    script = SETUP + f"sys.exit(main([*{list(args)!r}, '--url', url]))"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=_env()
    )
    assert "---\n" in done.stdout, done.stderr
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.split("---\n", 1)[1], done.stderr
    )


def _option_entries(help_text: str) -> dict[str, str]:
    """Each option of a --help output and its description (argparse puts a long one on the
    next lines, indented deeper)."""
    entries: dict[str, str] = {}
    current = None
    for line in help_text.split("options:", 1)[1].splitlines():
        if line.startswith("  -"):
            flags, _, text = line.strip().partition("  ")
            current = [word.rstrip(",") for word in flags.split() if word.startswith("-")][-1]
            entries[current] = text.strip()
        elif current and line.startswith("    "):
            entries[current] = (entries[current] + " " + line.strip()).strip()
    return entries


@pytest.mark.parametrize(
    ("action", "options"),
    [
        ("list", {"--url", "--format"}),
        ("create", {"--url", "--partitions", "--retention-seconds", "--retention-bytes"}),
        ("describe", {"--url", "--format"}),
        ("delete", {"--url"}),
    ],
)
def test_each_topics_subcommand_has_its_own_help(action: str, options: set[str]) -> None:
    done = run("topics", action, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: anymq topics {action}"), done.stdout[:200]
    entries = _option_entries(done.stdout)
    assert set(entries) - {"--help"} == options | {"--verbose"}, entries
    for option, text in entries.items():
        assert text, f"{option} has no help text"


def test_topics_help_lists_the_subcommands() -> None:
    done = run("topics", "--help")
    assert done.returncode == 0, done.stderr
    for action in ("list", "create", "describe", "delete"):
        assert action in done.stdout


def test_topics_describe_is_a_tab_separated_table_in_a_pipe() -> None:
    done = run_after_setup("topics", "describe", "orders")
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split("\t") == ["name", "partitions", "retention", "details"]
    [row] = [line.split("\t") for line in rows]
    assert row[:3] == ["orders", "2", "time=60s"], row
    assert "TopicInfo(" not in done.stdout


def test_topics_describe_json_is_one_object() -> None:
    done = run_after_setup("topics", "describe", "orders", "--format", "json")
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["name"] == "orders"
    assert info["partitions"] == 2
    assert info["retention"] == {"seconds": 60.0, "bytes": None, "messages": None}
    assert info["details"]["messages"] == 3  # memory:// details, as the API returns them


def test_topics_list_json() -> None:
    done = run_after_setup("topics", "list", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["orders", "other"]
    plain = run_after_setup("topics", "list")
    assert plain.stdout.splitlines() == ["orders", "other"]


def test_topics_describe_of_a_missing_topic_names_the_create_command() -> None:
    done = run_after_setup("topics", "describe", "nope")
    assert done.returncode == 1
    assert "anymq topics create nope" in done.stderr


def test_groups_list_names_the_groups_of_that_topic_only() -> None:
    done = run_after_setup("groups", "list", "orders")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["billing"]
    as_json = run_after_setup("groups", "list", "orders", "--format", "json")
    assert json.loads(as_json.stdout) == ["billing"]


def test_groups_describe_shows_position_and_lag_per_partition() -> None:
    script_args = ("groups", "describe", "orders", "billing")
    done = run_after_setup(*script_args)
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split("\t") == ["partition", "committed", "end", "lag"]
    table = [row.split("\t") for row in rows]
    assert len(table) == 2
    assert sum(int(row[3]) for row in table) == 0  # all three consumed and acked
    assert sum(int(row[2]) for row in table) == 3  # three messages in the log
    assert "members 0" in done.stderr, done.stderr
    info = json.loads(run_after_setup(*script_args, "--format", "json").stdout)
    assert info["topic"] == "orders"
    assert info["group"] == "billing"
    assert info["backlog"] == 0
    assert info["members"] == 0
    assert info["in_flight"] == 0
    assert [p["partition"] for p in info["partitions"]] == [0, 1]
    assert sum(p["end"] for p in info["partitions"]) == 3


def test_groups_describe_counts_what_waits() -> None:
    script = SETUP + (
        "quiet('produce', 'orders', 'd', 'e')\n"
        "sys.exit(main(['groups', 'describe', 'orders', 'billing', '--format', 'json',"
        " '--url', url]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=_env()
    )
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout.split("---\n", 1)[1])
    assert info["backlog"] == 2


def test_groups_help() -> None:
    for action, needed in (("list", ["topic"]), ("describe", ["topic", "group"])):
        done = run("groups", action, "--help")
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"usage: anymq groups {action}")
        for word in needed:
            assert word in done.stdout
        assert "--format" in done.stdout


def test_groups_list_on_a_missing_topic_fails_with_exit_1() -> None:
    done = run_after_setup("groups", "list", "nope")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
