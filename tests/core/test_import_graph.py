"""No import cycles inside a plugin or the core, ``if TYPE_CHECKING:`` imports included.

A cycle hidden behind TYPE_CHECKING still couples the modules both ways (a producer that
knows the concrete broker reaches into it); each plugin keeps its shared state in a context
module at the bottom of its graph instead. The graph is read with ``ast``, so nothing is
imported and every import counts, also those inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PLUGINS = [
    "anymq_memory",
    "anymq_kafka",
    "anymq_rabbitmq",
    "anymq_sqs",
]


def modules(package: Path, name: str) -> dict[str, Path]:
    """Every module of the package by dotted name (``pkg/__init__.py`` is ``pkg``)."""
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = [name, *path.relative_to(package).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imported(module: str, path: Path, is_package: bool, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``module`` imports: ``from a import b`` is an import
    of the module ``a.b`` when there is one, else of ``a``. A parent package alone is not
    an edge: a package's ``__init__`` that re-exports its children is no cycle with them."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                keep = len(base) - node.level + (1 if is_package else 0)
                prefix = ".".join(base[:keep])
                source = f"{prefix}.{node.module}" if node.module else prefix
            else:
                source = node.module or ""
            for alias in node.names:
                child = f"{source}.{alias.name}"
                found.add(child if child in known else source)
    found &= known
    found.discard(module)
    return found


def graph(package: Path, name: str, exclude: tuple[str, ...] = ()) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports."""
    mods = {
        m: p
        for m, p in modules(package, name).items()
        if not any(m == e or m.startswith(e + ".") for e in exclude)
    }
    known = set(mods)
    return {m: imported(m, p, p.name == "__init__.py", known) for m, p in mods.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None when the graph is acyclic."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def all_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Cycles found one after another, cutting the closing edge of each (for the report)."""
    edges = {k: set(v) for k, v in edges.items()}
    out = []
    while (cycle := find_cycle(edges)) is not None:
        out.append(cycle)
        edges[cycle[-2]].discard(cycle[-1])
    return out


def test_find_cycle_reports_a_cycle() -> None:
    """The checker itself: a cycle is found and named, an acyclic graph passes."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_type_checking_imports_count(tmp_path: Path) -> None:
    """An import under ``if TYPE_CHECKING:`` (and a relative one) is an edge."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import B\n"
    )
    (pkg / "b.py").write_text("from .a import A\n")
    assert find_cycle(graph(pkg, "pkg")) == ["pkg.a", "pkg.b", "pkg.a"]


@pytest.mark.parametrize("plugin", PLUGINS)
def test_plugin_has_no_import_cycle(plugin: str) -> None:
    cycles = all_cycles(graph(ROOT / "plugins" / plugin, plugin))
    assert not cycles, f"{plugin} has import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


#: Edges of the core that still close a cycle, each with why it is there. The test fails
#: when another cycle appears, and when one of these is gone (then delete its line).
KNOWN_CORE_EDGES = {
    # Received settles through its Delivery, which makes and hands out Received.
    ("anymq.message", "anymq.delivery"): "TYPE_CHECKING: Received._delivery is a Delivery",
    # The driver interface types the Delivery the public Consumer hands every driver.
    ("anymq.backend", "anymq.delivery"): "TYPE_CHECKING: ConsumerDriver.delivery",
    # URL.render masks the options the scheme's plugin declares secret: a late-bound
    # look-up in the registry (plugins -> backend -> url for the driver's type).
    ("anymq.url", "anymq.plugins"): "lazy import in declared_secrets()",
    # A serializer given by name is looked up in the plugin registry.
    ("anymq.serializers", "anymq.plugins"): "lazy import in resolve()",
    # A profile's round runner is typed with the workload module, which reads settings.
    ("anymq.compare.profile", "anymq.compare.perf.workload"): "TYPE_CHECKING: RoundRunner",
    # A baseline's extra benchmark shapes are typed with the shapes module.
    ("anymq.compare.profile", "anymq.compare.perf.shapes"): "TYPE_CHECKING: Baseline.workloads",
}


def test_core_has_no_other_import_cycle() -> None:
    """The core without its known back edges is acyclic, and every known one still exists."""
    edges = graph(ROOT / "src" / "anymq", "anymq")
    for source, target in KNOWN_CORE_EDGES:
        assert target in edges[source], f"{source} no longer imports {target}: drop the entry"
        edges[source].discard(target)
    cycles = all_cycles(edges)
    assert not cycles, "anymq has import cycles: " + "; ".join(" -> ".join(c) for c in cycles)
