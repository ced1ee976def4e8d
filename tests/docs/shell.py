"""What a ```bash block of the docs needs before it runs: its broker URLs replaced by the
test broker's, and the topic and group names its ``anymq`` commands use made unique.

Names are found by parsing each ``anymq ...`` (or ``python -m anymq ...``) command of the
block with the ``anymq`` command's own argument parser, so ``--group=x`` or an option before
the topic is read as the command reads it; each name then gets the run's suffix wherever it
stands as a word of its own (``orders`` in ``orders.txt`` or ``orders-copy`` stays, unless
``orders-copy`` is a name too). A URL is replaced when it is a whole word (``--url X``,
``VAR=X``) or a whole quoted string (``'sqs://...&region=...'``); the replacement is quoted
for the shell, so ``&`` and ``?`` in a test broker's URL stay part of it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
import uuid
from collections.abc import Callable, Iterator

from anymq.cli import build_parser

_SCHEME = r"[a-z][a-z0-9+.-]*://"
_URL = re.compile(
    rf"'(?P<single>{_SCHEME}[^']*)'"
    rf'|"(?P<double>{_SCHEME}[^"$`\\]*)"'
    rf"|(?<![^\s=])(?P<bare>{_SCHEME}[^\s'\"|;&()<>]*)"
)
_OPERATORS = frozenset("|&;()<>")
_REDIRECTS = (">", ">>", "<", ">|")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_TOPIC_DESTS = ("topic", "name")  # produce/consume/groups TOPIC; topics create|describe NAME
_GROUP_DESTS = ("group",)  # consume --group, groups describe TOPIC GROUP


def urls(code: str) -> list[str]:
    """The URLs the block names as a word or a quoted string, in order."""
    return [m["single"] or m["double"] or m["bare"] for m in _URL.finditer(code)]


def replace_urls(code: str, new: Callable[[str], str | None]) -> str:
    """Each URL replaced by ``new(url)`` (shell-quoted), or left as written where it is None."""

    def swap(match: re.Match[str]) -> str:
        url = match["single"] or match["double"] or match["bare"]
        replacement = new(url)
        return match[0] if replacement is None else shlex.quote(replacement)

    return _URL.sub(swap, code)


def _words(line: str) -> list[str]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        return list(lexer)
    except ValueError:  # an unclosed quote: not a command we can read
        return []


def _commands(code: str) -> Iterator[list[str]]:
    """The simple commands of the block (pipelines and lists split), redirections dropped."""
    for line in code.replace("\\\n", " ").splitlines():
        command: list[str] = []
        words = iter(_words(line))
        for word in words:
            if word in _REDIRECTS:
                next(words, None)  # the file it redirects to
            elif set(word) <= _OPERATORS:
                yield command
                command = []
            else:
                command.append(word)
        yield command


def _anymq_argv(command: list[str]) -> list[str] | None:
    while command and _ASSIGNMENT.match(command[0]):
        command = command[1:]
    if command[:1] == ["anymq"]:
        return command[1:]
    if command[:3] == ["python", "-m", "anymq"]:
        return command[3:]
    return None


def _parsed(argv: list[str]) -> argparse.Namespace | None:
    if {"-h", "--help", "--version"} & set(argv):
        return None
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
        try:
            args, _ = build_parser().parse_known_args(argv)
        except SystemExit:  # not a command the parser takes: it has no names for us
            return None
    return args


def names(code: str) -> tuple[set[str], set[str]]:
    """The topic names and the group names the block's ``anymq`` commands use."""
    topics: set[str] = set()
    groups: set[str] = set()
    for command in _commands(code):
        argv = _anymq_argv(command)
        args = None if argv is None else _parsed(argv)
        for dests, found in ((_TOPIC_DESTS, topics), (_GROUP_DESTS, groups)):
            for dest in dests:
                value = getattr(args, dest, None)
                if isinstance(value, str) and value and "$" not in value:
                    found.add(value)
    return topics, groups


def prepare(code: str, new_url: Callable[[str], str | None]) -> tuple[str, list[str]]:
    """The block with its URLs replaced and its names made unique; also the renamed topics,
    to delete afterwards."""
    suffix = "-" + uuid.uuid4().hex[:8]
    topics, groups = names(code)
    every = sorted(topics | groups, key=len, reverse=True)
    if every:
        word = re.compile(r"(?<![\w./-])(?:" + "|".join(map(re.escape, every)) + r")(?![\w./-])")
        code = word.sub(lambda m: m[0] + suffix, code)
    return replace_urls(code, new_url), sorted(t + suffix for t in topics)
