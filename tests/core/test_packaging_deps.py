"""Every third-party import is declared by the extra that installs its code, and the bare
install pulls in nothing only an extra uses.

Read with ``ast`` (nothing imported, imports inside functions and ``TYPE_CHECKING`` count);
import names are mapped to distributions with ``importlib.metadata.packages_distributions``,
requirements read from pyproject.toml (``anymq[...]`` self-references followed).
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]

pytestmark = pytest.mark.packaging

# Which extra installs the code under each path (longest prefix wins; the rest is core).
AREAS = {
    "src/anymq/testing": "testing",
    "src/anymq/compare": "compare",
    "src/anymq/cli.py": "cli",
    "src/anymq/cli_output.py": "cli",
    "src/anymq/demo.py": "cli",
    "src/anymq/otel": "otel",
    "plugins/anymq_kafka": "kafka",
    "plugins/anymq_rabbitmq": "rabbitmq",
    "plugins/anymq_sqs": "sqs",
    "plugins/anymq_redis": "redis",
    "plugins/anymq_nats": "nats",
}
CORE = "(core)"


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert match, requirement
    return _normal(match[1])


def declared(extra: str) -> set[str]:
    """Distributions an install of ``anymq[extra]`` gets (core dependencies included)."""
    found = {_requirement_name(r) for r in PROJECT["dependencies"]}
    todo, seen = [extra], set()
    while todo:
        name = todo.pop()
        if name == CORE or name in seen:
            continue
        seen.add(name)
        for requirement in PROJECT["optional-dependencies"][name]:
            if _requirement_name(requirement) == _normal(PROJECT["name"]):
                inner = re.search(r"\[([^\]]+)\]", requirement)
                assert inner, requirement
                todo += [e.strip() for e in inner[1].split(",")]
            else:
                found.add(_requirement_name(requirement))
    return found


def area(path: Path) -> str:
    relative = path.relative_to(ROOT).as_posix()
    prefixes = [p for p in AREAS if relative == p or relative.startswith(p + "/")]
    return AREAS[max(prefixes, key=len)] if prefixes else CORE


def third_party_imports() -> dict[str, dict[str, set[str]]]:
    """area -> top-level import name -> the files importing it."""
    first_party = {"anymq", *(p.name for p in (ROOT / "plugins").iterdir() if p.is_dir())}
    skip = set(sys.stdlib_module_names) | first_party | {"__future__"}
    out: dict[str, dict[str, set[str]]] = {}
    for path in sorted([*(ROOT / "src").rglob("*.py"), *(ROOT / "plugins").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in skip:
                    files = out.setdefault(area(path), {}).setdefault(top, set())
                    files.add(path.relative_to(ROOT).as_posix())
    return out


def distributions_of(module: str) -> set[str]:
    dists = importlib.metadata.packages_distributions().get(module)
    assert dists, f"{module!r} is imported but no installed distribution provides it"
    return {_normal(d) for d in dists}


def test_the_scan_sees_the_backend_clients() -> None:
    imports = third_party_imports()
    assert {"aiokafka"} <= set(imports["kafka"])
    assert {"aio_pika", "aiormq", "pamqp"} <= set(imports["rabbitmq"])
    assert {"aiobotocore", "botocore"} <= set(imports["sqs"])
    assert {"redis"} <= set(imports["redis"])
    assert {"pytest"} <= set(imports["testing"])


def test_every_third_party_import_is_declared_by_its_extra() -> None:
    undeclared = [
        f"{module} ({', '.join(sorted(distributions_of(module)))}) imported by "
        f"{', '.join(sorted(files))} but not declared by "
        f"{'the core dependencies' if extra == CORE else f'anymq[{extra}]'}"
        for extra, modules in third_party_imports().items()
        for module, files in sorted(modules.items())
        if not distributions_of(module) & declared(extra)
    ]
    assert undeclared == []


def test_a_bare_install_gets_only_what_the_core_imports() -> None:
    core = {d for m in third_party_imports().get(CORE, {}) for d in distributions_of(m)}
    unused = {_requirement_name(r) for r in PROJECT["dependencies"]} - core
    assert unused == set(), f"hard dependencies no core module imports: {sorted(unused)}"


@pytest.mark.parametrize("extra", sorted(set(AREAS.values())))
def test_each_extra_declares_only_what_its_code_imports(extra: str) -> None:
    """An extra's own requirements (not those of the extras it includes) are imported by
    its code: a stale requirement would be installed for nothing."""
    used = {d for m in third_party_imports().get(extra, {}) for d in distributions_of(m)}
    own = {
        _requirement_name(r)
        for r in PROJECT["optional-dependencies"][extra]
        if _requirement_name(r) != _normal(PROJECT["name"])
    }
    assert own - used == set()


def test_all_installs_every_extra_of_the_code() -> None:
    assert {d for extra in set(AREAS.values()) for d in declared(extra)} <= declared("all")


def test_faststream_is_a_benchmark_only_dependency() -> None:
    """benchmarks/peer imports FastStream: the bench extra declares it (dev includes bench
    for CI's short peer run), and neither the bare install nor `all` pulls it in."""
    peer = ROOT / "benchmarks" / "peer"
    imported = {
        (node.module if isinstance(node, ast.ImportFrom) else node.names[0].name).split(".")[0]
        for path in peer.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Import | ast.ImportFrom)
        and getattr(node, "level", 0) == 0
        and (not isinstance(node, ast.ImportFrom) or node.module)
    }
    assert "faststream" in imported
    assert "faststream" in declared("bench")
    assert "faststream" in declared("dev")
    assert "faststream" not in declared("all")
    assert {"aiokafka", "aio-pika", "rich"} <= declared("bench")
