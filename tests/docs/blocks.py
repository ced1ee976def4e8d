"""The code blocks of README.md and docs/, and how each is run against a test broker.

```python blocks run as scripts (tests/docs/run_block.py); ```bash, ```sh and ```shell
blocks run with ``bash -euo pipefail`` in an empty temporary directory, with the Python that
runs the tests first on PATH (its ``anymq`` console script and ``python`` import this
checkout through PYTHONPATH), ``ANYMQ_URL`` set to the broker's URL (and for a real broker
its own ``ANYMQ_<BROKER>_URL``; the other brokers' variables are unset, so ``anymq compare``
without URLs compares just that one). In a ```console block the lines that start with
``$ `` are the commands. A shell block is killed (the whole process group) after twice the
python blocks' timeout.

Every block runs unless the line right before its fence says why not
(``<!-- not run: reason -->``). ``<!-- run on: memory kafka rabbitmq sqs -->`` names the
brokers a block is for; otherwise a page under docs/backends/ runs against its broker, any
other block against the brokers whose URLs it names, or memory:// when it names none.
``<!-- ... | prints: text -->`` also requires ``text`` in what the block prints (stdout).
memory:// lives in one process, so a shell block of several ``anymq`` commands that share
topics runs on real brokers only (``run on: kafka rabbitmq sqs``).

Before a block runs, its ``memory://``, ``kafka://``, ``amqp://`` and ``sqs://`` URLs become
the test broker's (memory:// ones stay as written on memory) and the topic and group names
it creates or uses get a per-run suffix, so runs on shared brokers never collide; a python
block's names are the literals passed to ``create_topic``, ``consumer`` etc., a shell
block's the names its ``anymq`` commands take (tests/docs/shell.py says how they are found).
The topics a block created are deleted afterwards.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
import uuid
from dataclasses import dataclass
from pathlib import Path

from tests.docs import shell

ROOT = Path(__file__).resolve().parents[2]
BROKERS = ("memory", "kafka", "rabbitmq", "sqs", "redis", "nats")
SCHEMES = {
    "memory": "memory",
    "kafka": "kafka",
    "amqp": "rabbitmq",
    "sqs": "sqs",
    "redis": "redis",
    "nats": "nats",
}
"""URL scheme -> broker; only these URLs are replaced (kafka+ssl:// etc. stay as written)."""

_FENCE = re.compile(r"^(?P<indent>\s*)```(?P<info>[^`]*)$")
_MARK = re.compile(r"^\s*<!--\s*(?P<body>.*?)\s*-->\s*$")
_URL = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*)://")
LANGUAGES = {"python": "python", "bash": "bash", "sh": "bash", "shell": "bash", "console": "bash"}
"""Fence info -> how the block runs."""


@dataclass(frozen=True)
class Block:
    page: str  # relative to the repository root
    line: int  # of the opening fence
    code: str
    brokers: tuple[str, ...]
    skip: str | None = None  # the reason a block is not run
    prints: str | None = None
    language: str = "python"  # or "bash"

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def blocks(path: Path) -> list[Block]:
    """The page's python and shell blocks, each with its brokers and marker."""
    page = path.relative_to(ROOT).as_posix()
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if fence is None:
            i += 1
            continue
        indent, info = fence["indent"], fence["info"].strip()
        end = i + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        kind = info.split(" ", 1)[0]
        if kind in LANGUAGES:
            body = [line.removeprefix(indent) for line in lines[i + 1 : end]]
            if kind == "console":  # the commands; the rest is what they print
                body = [line[2:] for line in body if line.startswith("$ ")]
            code = "\n".join(body) + "\n"
            found.append(_block(page, i + 1, code, _marker(lines, i), LANGUAGES[kind]))
        i = end + 1
    return found


def _marker(lines: list[str], fence: int) -> dict[str, str]:
    """``key: value`` pairs of the HTML comment on the line before the fence."""
    if fence == 0 or (match := _MARK.match(lines[fence - 1])) is None:
        return {}
    marker: dict[str, str] = {}
    for part in match["body"].split(" | "):
        key, _, value = part.partition(":")
        marker[key.strip()] = value.strip()
    return marker


def _block(
    page: str, line: int, code: str, marker: dict[str, str], language: str = "python"
) -> Block:
    unknown = set(marker) - {"not run", "run on", "prints"}
    if unknown:
        raise ValueError(f"{page}:{line}: unknown marker {sorted(unknown)} before the block")
    if "not run" in marker:
        if not marker["not run"]:
            raise ValueError(f"{page}:{line}: '<!-- not run: ... -->' needs a reason")
        return Block(page, line, code, (), skip=marker["not run"], language=language)
    if "run on" in marker:
        brokers = tuple(marker["run on"].split())
        if not brokers or set(brokers) - set(BROKERS):
            raise ValueError(f"{page}:{line}: 'run on' takes some of {BROKERS}")
    elif page.startswith("docs/backends/"):
        brokers = (Path(page).stem,)
    else:
        schemes = _url_schemes(code) if language == "python" else _shell_schemes(code)
        named = {SCHEMES[s] for s in schemes if s in SCHEMES}
        brokers = tuple(b for b in BROKERS if b in named) or ("memory",)
    return Block(page, line, code, brokers, prints=marker.get("prints"), language=language)


def _strings(code: str) -> list[tokenize.TokenInfo]:
    tokens = tokenize.generate_tokens(io.StringIO(code).readline)
    return [t for t in tokens if t.type == tokenize.STRING]


def _value(token: tokenize.TokenInfo) -> object:
    try:
        return ast.literal_eval(token.string)
    except (ValueError, SyntaxError):  # f-strings
        return None


def _url_schemes(code: str) -> list[str]:
    schemes = []
    for token in _strings(code):
        value = _value(token)
        if isinstance(value, str) and (match := _URL.match(value)):
            schemes.append(match["scheme"])
    return schemes


def _shell_schemes(code: str) -> list[str]:
    return [m["scheme"] for url in shell.urls(code) if (m := _URL.match(url))]


def _names(code: str) -> set[str]:
    """Topic and group names the block passes as literals (made unique per run)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(code)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        method = node.func.attr
        count = {
            "create_topic": 1,
            "create_group": 2,
            "consumer": 2,
            "describe_group": 2,
            "delete_topic": 1,
        }
        args = node.args[: count.get(method, 0)]
        args += [k.value for k in node.keywords if k.arg == "group" and method == "consumer"]
        names |= {a.value for a in args if isinstance(a, ast.Constant) and isinstance(a.value, str)}
    return names


def _replaced(scheme: str, broker: str) -> bool:
    """A test broker's URL is replaced, except memory:// ones on memory (they run as written)."""
    return scheme in SCHEMES and not (broker == "memory" == SCHEMES[scheme])


def prepare(code: str, broker: str, url: str, language: str = "python") -> tuple[str, list[str]]:
    """The block with its broker URLs replaced by ``url`` (unless ``broker`` is memory) and
    its topic and group names made unique; also the renamed topics, to delete afterwards."""
    if language == "bash":

        def test_url(written: str) -> str | None:
            match = _URL.match(written)
            return url if match and _replaced(match["scheme"], broker) else None

        return shell.prepare(code, test_url)
    suffix = "-" + uuid.uuid4().hex[:8]
    names = _names(code)
    lines = code.splitlines(keepends=True)
    for token in reversed(_strings(code)):  # right to left keeps earlier columns valid
        value = _value(token)
        if not isinstance(value, str):
            continue
        if value in names:
            new = repr(value + suffix)
        elif (match := _URL.match(value)) and _replaced(match["scheme"], broker):
            new = repr(url)
        else:
            continue
        (row, start), (end_row, end) = token.start, token.end
        if row != end_row:
            continue  # a multi-line string is never a URL or a name
        text = lines[row - 1]
        lines[row - 1] = text[:start] + new + text[end:]
    created = {
        node.args[0].value
        for node in ast.walk(ast.parse(code))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "create_topic"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    }
    return "".join(lines), sorted(name + suffix for name in created)
