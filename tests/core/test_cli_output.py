"""The command without rich (a bare ``pip install anymq``) and in pipes: plain lines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.memory

ROOT = Path(__file__).resolve().parents[2]
# rich hidden the way a venv without it hides it: its import raises ImportError
NO_RICH = "import sys; sys.modules['rich'] = None; from anymq.cli import main; "


def run(code: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT / "plugins")]))
    env.pop("ANYMQ_URL", None)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )


def test_backends_without_rich_prints_a_tab_separated_table() -> None:
    done = run(NO_RICH + "sys.exit(main(['backends']))")
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split("\t") == ["scheme", "backend", "loads", "features", "install"]
    memory = next(row.split("\t") for row in rows if row.startswith("memory://"))
    assert memory[2] == "yes"
    assert "partitions" in memory[3]


def test_demo_runs_without_rich() -> None:
    done = run(NO_RICH + "sys.exit(main(['demo']))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("anymq demo on memory://demo")
    assert "[" + "bold" not in done.stdout  # no markup leaks into plain text


def test_errors_without_rich_are_one_plain_line() -> None:
    done = run(NO_RICH + "sys.exit(main(['topics', 'list', '--url', 'nope://x']))")
    assert done.returncode == 2
    assert done.stderr.startswith("error: "), done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr


def test_markup_in_input_prints_as_it_is() -> None:
    """A topic named like rich markup is shown literally, not taken as a style; a bad
    topic name is a usage error (2), like any bad argument."""
    code = (
        "from anymq.cli import main; main(['topics', 'create', '[red]x[/]', '--url', 'memory://'])"
    )
    done = run(code.replace("main([", "import sys; sys.exit(main([") + ")")
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: invalid topic name '[red]x[/]'"), done.stderr


def test_quiet_cli_logging_still_lets_anymq_read_client_records() -> None:
    """Silencing the clients at the terminal must not silence them for anymq itself: the
    Kafka plugin finds a SASL failure's reason in aiokafka's log record (it broke when the
    CLI set the libraries' logger levels, once main() had run in the same process)."""
    code = (
        "import logging, sys\n"
        "from anymq.cli_output import configure_logging\n"
        "configure_logging(0)\n"
        "seen = []\n"
        "class Capture(logging.Handler):\n"
        "    def emit(self, record): seen.append(record.getMessage())\n"
        "logging.getLogger('aiokafka').addHandler(Capture())\n"
        "logging.getLogger('aiokafka.conn').error('SASL authentication failed')\n"
        "logging.getLogger('anymq.x').warning('own warning')\n"
        "print(seen)\n"
    )
    done = run(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['SASL authentication failed']"
    assert "SASL" not in done.stderr  # not shown to the user without -v
    assert "own warning" in done.stderr
