#!/usr/bin/env python3
"""Fail on any import cycle between the modules of ``src/mainflux``.

Every ``import``/``from ... import`` of a ``mainflux`` module counts, wherever it is
written (module level or inside a function), except under ``if TYPE_CHECKING:``. A
cycle is printed as the modules on it; the exit code is 1 when there is one, else 0.

Usage: ``python scripts/check_imports.py [SRC_DIR]`` (default ``src``)."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

PACKAGE = "mainflux"


def module_name(path: Path, src: Path) -> str:
    """``src/mainflux/a/b.py`` -> ``mainflux.a.b``; packages drop ``__init__``."""
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, name: str, is_package: bool) -> Iterator[tuple[str, ...]]:
    """What one module imports, as alternatives (TYPE_CHECKING blocks excluded).

    ``from a.b import c`` gives ``("a.b.c", "a.b")``: the submodule ``c`` when there is
    one, else the module ``a.b`` (that ``c`` is a name of)."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield (alias.name,)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                drop = node.level - 1 if is_package else node.level
                anchor = anchor[: len(anchor) - drop] if drop else anchor
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                yield (f"{base}.{alias.name}", base)
        stack.extend(ast.iter_child_nodes(node))


def import_graph(src: Path) -> dict[str, set[str]]:
    """Map each module to the package's modules it imports."""
    files = {module_name(p, src): p for p in (src / PACKAGE).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text(), str(path))
        targets = set()
        for choices in _imports(tree, name, path.name == "__init__.py"):
            found = next((c for c in choices if c in files), None)
            if found is not None and found != name:
                targets.add(found)
        graph[name] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def main(argv: list[str]) -> int:
    src = Path(argv[1] if len(argv) > 1 else "src")
    found = cycles(import_graph(src))
    for component in found:
        print("import cycle: " + " <-> ".join(component))
    if not found:
        print(f"no import cycles under {src / PACKAGE}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
