"""No import cycle among our own modules: a cycle makes import order matter (a module half
loaded when the other reads it) and ties modules that should stand alone. Imports are read
from the source with ast, those inside functions and under TYPE_CHECKING included, so a
cycle that only a type annotation or a deferred import hides still counts."""

from __future__ import annotations

import ast

from tests.helpers.imports import PACKAGES, ROOT, import_graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), and self-imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for following in sorted(graph[node]):
            if following not in index:
                visit(following)
                low[node] = min(low[node], low[following])
            elif following in stack:
                low[node] = min(low[node], index[following])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_walk_sees_our_packages_and_their_imports() -> None:
    graph = import_graph()
    assert {name.split(".")[0] for name in graph} == set(PACKAGES)
    assert "mpg_launch.pipeline.format" in graph["mpg_launch.pipeline.checks"]
    assert "mpg_core.errors" in graph["mpg_core.exits"]


def test_a_cycle_is_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_our_packages_have_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_no_file_under_containers_imports_the_launcher() -> None:
    """The images never ship the launcher: a benchmark or script of the launcher lives with
    it (launch/), not beside an image."""
    importers = []
    for path in sorted((ROOT / "containers").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(n == "mpg_launch" or n.startswith("mpg_launch.") for n in names):
                importers.append(str(path.relative_to(ROOT)))
    assert importers == []
