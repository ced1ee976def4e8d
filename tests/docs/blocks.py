"""The ```python blocks of README.md and docs/, and how each is run against a test broker.

Every block runs unless the line right before its fence says why not
(``<!-- not run: reason -->``). ``<!-- run on: memory kafka rabbitmq sqs -->`` names the
brokers a block is for; otherwise a page under docs/backends/ runs against its broker, any
other block against the brokers whose URLs it names, or memory:// when it names none.
``<!-- ... | prints: text -->`` also requires ``text`` in what the block prints.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BROKERS = ("memory", "kafka", "rabbitmq", "sqs", "nats")
SCHEMES = {
    "memory": "memory",
    "kafka": "kafka",
    "amqp": "rabbitmq",
    "sqs": "sqs",
    "nats": "nats",
}
"""URL scheme -> broker; only these URLs are replaced (kafka+ssl:// etc. stay as written)."""

_FENCE = re.compile(r"^(?P<indent>\s*)```(?P<info>[^`]*)$")
_MARK = re.compile(r"^\s*<!--\s*(?P<body>.*?)\s*-->\s*$")
_URL = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*)://")


@dataclass(frozen=True)
class Block:
    page: str  # relative to the repository root
    line: int  # of the opening fence
    code: str
    brokers: tuple[str, ...]
    skip: str | None = None  # the reason a block is not run
    prints: str | None = None

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def blocks(path: Path) -> list[Block]:
    """The page's python blocks, each with its brokers and marker."""
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
        if info.split(" ", 1)[0] == "python":
            body = [line.removeprefix(indent) for line in lines[i + 1 : end]]
            found.append(_block(page, i + 1, "\n".join(body) + "\n", _marker(lines, i)))
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


def _block(page: str, line: int, code: str, marker: dict[str, str]) -> Block:
    unknown = set(marker) - {"not run", "run on", "prints"}
    if unknown:
        raise ValueError(f"{page}:{line}: unknown marker {sorted(unknown)} before the block")
    if "not run" in marker:
        if not marker["not run"]:
            raise ValueError(f"{page}:{line}: '<!-- not run: ... -->' needs a reason")
        return Block(page, line, code, (), skip=marker["not run"])
    if "run on" in marker:
        brokers = tuple(marker["run on"].split())
        if not brokers or set(brokers) - set(BROKERS):
            raise ValueError(f"{page}:{line}: 'run on' takes some of {BROKERS}")
    elif page.startswith("docs/backends/"):
        brokers = (Path(page).stem,)
    else:
        named = {SCHEMES[s] for s in _url_schemes(code) if s in SCHEMES}
        brokers = tuple(b for b in BROKERS if b in named) or ("memory",)
    return Block(page, line, code, brokers, prints=marker.get("prints"))


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


def prepare(code: str, broker: str, url: str) -> tuple[str, list[str]]:
    """The block with its broker URLs replaced by ``url`` (unless ``broker`` is memory) and
    its topic and group names made unique; also the renamed topics, to delete afterwards."""
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
