"""How the config and compat packages depend on each other: one way, no cycles, cheap imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import vidlab

PACKAGE = Path(vidlab.__file__).parent
MODULES = sorted(
    [*PACKAGE.joinpath("config").glob("*.py"), *PACKAGE.joinpath("compat").glob("*.py")]
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, top_level_only: bool) -> set[str]:
    """vidlab modules that ``path`` imports (at the top level only, or anywhere)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {m for m in found if m.startswith("vidlab.")}


def _graph(top_level_only: bool) -> dict[str, set[str]]:
    """Module -> modules its import runs, with the packages whose ``__init__`` runs first
    (importing ``vidlab.config.types`` from elsewhere runs ``vidlab/config/__init__.py``)."""
    graph: dict[str, set[str]] = {}
    for path in MODULES:
        name = _module_name(path)
        edges = set()
        for target in _imports(path, top_level_only):
            parts = target.split(".")
            for i in range(2, len(parts) + 1):
                prefix = ".".join(parts[:i])
                if not (name == prefix or name.startswith(prefix + ".")):
                    edges.add(prefix)  # a package that name is not inside: its __init__ runs
        graph[name] = edges
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt] if nxt in stack else [node, nxt]
            if nxt not in state:
                found = visit(nxt, [*stack, nxt])
                if found:
                    return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return None


def test_module_level_imports_have_no_cycle():
    assert _cycle(_graph(top_level_only=True)) is None


# The order of vidlab/config/__init__.py's docstring: each module imports only earlier ones.
LAYERS = [
    "errors",
    "names",
    "format",
    "options",
    "types",
    "load",
    "resolve",
    "values",
    "schema",
    "build",
    "validate",
]


def test_config_modules_import_only_lower_layers():
    graph = _graph(top_level_only=True)
    for i, layer in enumerate(LAYERS):
        own = {e for e in graph[f"vidlab.config.{layer}"] if e.startswith("vidlab.config.")}
        assert own <= {f"vidlab.config.{m}" for m in LAYERS[:i]}, layer
    # the one import upwards, made when called: Config.fromfile -> load_config
    upward = {
        (name, e)
        for name, edges in _graph(top_level_only=False).items()
        for e in edges
        if name.startswith("vidlab.config.")
        and e.startswith("vidlab.config.")
        and LAYERS.index(e.rsplit(".", 1)[1]) >= LAYERS.index(name.rsplit(".", 1)[1])
    }
    assert upward == {("vidlab.config.types", "vidlab.config.load")}


def test_config_depends_on_compat_one_way():
    # Counting imports inside functions too: the compat modules the config package uses never
    # import the config package, so the loader can call the 0.x upgrade and resolve_type can
    # read ALIASES with plain imports. (compat.mmengine, the engine's vocabulary, sits above
    # both and may raise ConfigError.)
    graph = _graph(top_level_only=False)
    used = {e for n, edges in graph.items() if n.startswith("vidlab.config") for e in edges}
    used = {m for m in used if m.startswith("vidlab.compat")}
    assert used, "config no longer uses compat?"
    for name in used:
        assert not {e for e in graph[name] if e.startswith("vidlab.config")}, name
    assert "vidlab.compat.mmaction0x" in graph["vidlab.config.load"]
    assert "vidlab.compat.mmaction0x" in graph["vidlab.config.resolve"]
    assert "vidlab.compat.mmengine" not in used


def test_no_config_module_is_too_long():
    for path in PACKAGE.joinpath("config").glob("*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 600, path.name


def _imported_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_importing_compat_is_lightweight():
    mods = _imported_after("import vidlab.compat")
    assert "vidlab.compat" in mods
    assert not {m for m in mods if m.startswith("vidlab.config")}
    assert "vidlab.compat.mmaction0x" not in mods
    mods = _imported_after("from vidlab.compat import upgrade_config")
    assert "vidlab.compat.mmaction0x" in mods
    assert not {m for m in mods if m.startswith("vidlab.config")}


def test_compat_first_then_config_imports_cleanly():
    # The order that would fail with a cycle through vidlab/config/__init__.py.
    mods = _imported_after(
        "import vidlab.compat.mmaction0x\nfrom vidlab.config import load_config, Config"
    )
    assert {"vidlab.config.load", "vidlab.compat.mmaction0x"} <= mods


def test_importing_config_pulls_in_no_torch_and_no_models():
    mods = _imported_after("import vidlab.config")
    assert "torch" not in mods
    assert not {m for m in mods if m.startswith("vidlab.models")}
