"""The package's shape: layers import downwards, no cycles, no file past ~600 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import vidlab

PACKAGE = Path(vidlab.__file__).parent
FILES = [p for p in PACKAGE.rglob("*.py") if "configs" not in p.relative_to(PACKAGE).parts]


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, top_level_only: bool) -> set[str]:
    """vidlab modules imported by ``path``; with ``top_level_only`` those run at import time
    (module level, also inside ``if``/``try``), else every import, inside functions too."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    if top_level_only:
        nodes, stack = [], list(tree.body)
        while stack:
            node = stack.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            nodes.append(node)
            stack.extend(ast.iter_child_nodes(node))
    else:
        nodes = list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return {m for m in found if m.startswith("vidlab")}


MODULES = {_name(p): p for p in FILES}


def _graph(top_level_only: bool) -> dict[str, set[str]]:
    """module -> modules whose import it runs (a package's ``__init__`` runs first)."""
    graph = {}
    for name, path in MODULES.items():
        edges = set()
        for target in _imports(path, top_level_only):
            parts = target.split(".")
            for i in range(2, len(parts) + 1):
                prefix = ".".join(parts[:i])
                if prefix in MODULES and not (name == prefix or name.startswith(prefix + ".")):
                    edges.add(prefix)
        graph[name] = edges
    return graph


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt, [*stack, nxt])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def test_no_import_cycle_at_import_time():
    assert _find_cycle(_graph(top_level_only=True)) is None


def test_models_never_import_the_engine():
    """Checkpoint I/O lives below both (vidlab.checkpoint); models know nothing of training."""
    graph = _graph(top_level_only=False)
    for name, edges in graph.items():
        if name.startswith("vidlab.models"):
            assert not {e for e in edges if e.startswith("vidlab.engine")}, name
    for low in ("vidlab.checkpoint", "vidlab.compat.layers"):
        assert not {e for e in graph[low] if e.startswith(("vidlab.models", "vidlab.engine"))}


def test_models_build_without_the_config_package():
    """Children are passed built: no model module reaches for the config builder."""
    graph = _graph(top_level_only=False)
    for name, edges in graph.items():
        if name.startswith("vidlab.models"):
            assert not {e for e in edges if e.startswith("vidlab.config")}, name


def test_no_file_is_too_long():
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in FILES
        if (n := len(p.read_text().splitlines())) > 620
    }
    assert not long, long
