"""No plugin has an import cycle, not even one hidden behind ``if TYPE_CHECKING:``.

A cycle means the modules cannot be read (or tested, or replaced) one at a time: a producer
that imports its driver "only for typing" still depends on everything the driver wires. Every
import counts here, also those inside functions and TYPE_CHECKING blocks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PLUGINS_DIR = Path(__file__).resolve().parents[2] / "plugins"

PLUGINS = [
    "anymq_rabbitmq",
    "anymq_sqs",
]


def imports_of(package: str, path: Path) -> set[str]:
    """The modules of ``package`` that the module at ``path`` imports (every import statement)."""
    module = f"{package}.{path.stem}"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = ".".join(module.split(".")[: -node.level])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.add(target)
            # ``from pkg import mod`` imports the submodule ``pkg.mod``
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def graph_of(package: str) -> dict[str, set[str]]:
    """The intra-package import graph: module -> the package's modules it imports."""
    files = sorted((PLUGINS_DIR / package).glob("*.py"))
    modules = {f"{package}.{path.stem}" for path in files if path.stem != "__init__"}
    return {
        f"{package}.{path.stem}": (imports_of(package, path) & modules) - {f"{package}.{path.stem}"}
        for path in files
        if path.stem != "__init__"
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_checker_sees_a_cycle_behind_type_checking(tmp_path: Path) -> None:
    package = tmp_path / "toy"
    package.mkdir()
    (package / "a.py").write_text("from toy.b import B\n")
    (package / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import A\n"
    )
    (package / "c.py").write_text("from toy import a\n")
    graph = {
        f"toy.{path.stem}": imports_of("toy", path)
        & {"toy.a", "toy.b", "toy.c"} - {f"toy.{path.stem}"}
        for path in package.glob("*.py")
    }
    assert cycles(graph) == [["toy.a", "toy.b"]]


@pytest.mark.parametrize("plugin", PLUGINS)
def test_plugin_import_graph_is_acyclic(plugin: str) -> None:
    graph = graph_of(plugin)
    assert graph, f"no modules found for {plugin}"
    found = cycles(graph)
    assert not found, f"{plugin} has import cycles (modules importing each other): " + "; ".join(
        " <-> ".join(cycle) for cycle in found
    )
