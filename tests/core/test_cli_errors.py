"""No traceback for any bad input: one ``error:`` line and exit 2 (usage) or 1 (failure);
client-library log lines stay off the terminal unless asked for with -v."""

from __future__ import annotations

import argparse

import pytest

from anymq.cli import build_parser
from tests.core.cli_run import anymq, text

MEM = ["--url", "memory://"]
BAD_INPUTS = [
    # (argv, stdin, exit code)
    (["topics", "list", "--url", "kafka://h:notaport"], b"", 2),
    (["topics", "list", "--url", "nosuch://x"], b"", 2),
    (["produce", "t", "--bogus", *MEM], b"", 2),
    (["produce", "t", "--header", "no-equals-sign", *MEM], b"a\n", 2),
    (["produce", "t", "--header", "=value", *MEM], b"a\n", 2),
    (["consume", "t", "--format", "{nosuchfield}", *MEM], b"", 2),
    (["consume", "t", "--format", "{value", *MEM], b"", 2),
    (["produce", "t", "--format", "yaml", *MEM], b"", 2),
    (["produce", "t", "--format", "json", "--key-separator", ":", *MEM], b"", 2),
    (
        ["produce", "t", "--format", "json", "--url", "memory://?auto_create_topics=true"],
        b"[1, 2]\n",
        1,
    ),
    (
        ["produce", "t", "--format", "json", "--url", "memory://?auto_create_topics=true"],
        b'{"value": "x", "value_encoding": "rot13"}\n',
        1,
    ),
    (["produce", "t", "--file", "/nonexistent/file", *MEM], b"", 1),
    (["consume", "t", "--url", "amqp://guest:guest@127.0.0.1:1/" + "v" * 200], b"", 2),
]


@pytest.mark.parametrize(("argv", "stdin", "code"), BAD_INPUTS, ids=lambda v: str(v)[:60])
def test_bad_input_is_one_error_line_without_a_traceback(
    argv: list[str], stdin: bytes, code: int
) -> None:
    done = anymq(*argv, stdin=stdin, timeout=30)
    stderr = text(done.stderr)
    assert done.returncode == code, stderr
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line]  # argparse's: "anymq: error:"
    assert len(errors) == 1, stderr


def test_a_vhost_too_long_for_amqp_is_a_config_error_before_connecting() -> None:
    """aio-pika/pamqp refuse a vhost over 127 characters inside the connect loop, which
    retried (logging "Reconnect attempt failed") until the timeout said "cannot reach"."""
    import anymq as lib

    vhost = "v" * 128
    with pytest.raises(lib.ConfigError) as info:
        lib.connect(f"amqp://guest:guest@127.0.0.1:1/{vhost}")
    assert vhost in str(info.value)
    assert "127" in str(info.value)
    lib.connect("amqp://guest:guest@127.0.0.1:1/" + "v" * 127)  # the limit itself is fine


def test_client_library_logs_are_off_unless_verbose() -> None:
    """aiokafka logs 'Unable connect to ...' on a refused port: by default the user sees
    only anymq's own error line; -v shows the library's warnings and errors."""
    url = "kafka://127.0.0.1:1?connect_timeout=2"
    quiet = anymq("topics", "list", "--url", url, timeout=60)
    assert quiet.returncode == 1, text(quiet.stderr)
    assert b"Unable connect" not in quiet.stderr, text(quiet.stderr)
    assert text(quiet.stderr).count("\n") == 1, text(quiet.stderr)
    loud = anymq("-v", "topics", "list", "--url", url, timeout=60)
    assert loud.returncode == 1
    assert b"Unable connect" in loud.stderr, text(loud.stderr)
    also = anymq("topics", "list", "-v", "--url", url, timeout=60)  # after the command too
    assert b"Unable connect" in also.stderr, text(also.stderr)


def _options(parser: argparse.ArgumentParser, path: str = "anymq") -> list[tuple[str, str]]:
    """(``anymq COMMAND dest``, help) for every option and argument, subcommands included."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.extend(_options(sub, f"{path} {name}"))
        elif not isinstance(action, argparse._HelpAction | argparse._VersionAction):
            found.append((f"{path} {action.dest}", action.help or ""))
    return found


def test_every_option_of_every_command_has_help() -> None:
    missing = [where for where, help_text in _options(build_parser()) if not help_text.strip()]
    assert not missing, f"options without help text: {missing}"
