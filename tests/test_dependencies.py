"""What README and docs/faq.md promise about installing: torch >= 2.1 and Python >= 3.10, no mmcv,
no torchvision, no MoviePy and no compiled code; everything else is optional and imported lazily.

These are the answers to the FAQ entries "No module named 'mmcv._ext'", "MoviePy Error", "MMCV==xxx
is used but incompatible" and the build errors of compiled extensions (nvcc, MSVC, undefined
symbols): the checks below fail as soon as one of them could happen again.
"""

from __future__ import annotations

import ast
import functools
import sys
from pathlib import Path

import pytest

import vidlab

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11; on 3.10 the checks run in CI's 3.11

PACKAGE = Path(vidlab.__file__).parent
ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"

# Packages vidlab needs: what `pip install vidlab` brings (pyproject's dependencies).
REQUIRED = {"torch", "numpy", "av", "tqdm"}
# Never imported, not even lazily: the stacks (and their compiled ops) vidlab replaces.
NEVER = {"mmcv", "mmengine", "mmaction", "mmdet", "mmpose", "mmpretrain", "mmcls", "moviepy"}
NEVER |= {"torchvision", "detectron2", "slowfast", "pytorchvideo"}


def _imports(path: Path) -> tuple[set[str], set[str]]:
    """Top-level package names ``path`` imports: (at import time, anywhere else)."""
    eager, lazy = set(), set()

    def visit(nodes, at_import: bool) -> None:
        for node in nodes:
            inside = at_import and not isinstance(
                node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
            )
            if isinstance(node, ast.Import):
                (eager if inside else lazy).update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                (eager if inside else lazy).add(node.module.split(".")[0])
            visit(ast.iter_child_nodes(node), inside)

    visit(ast.parse(path.read_text(encoding="utf-8")).body, True)
    return eager, lazy - eager


@functools.cache
def _package_imports():
    eager, lazy = {}, {}
    for path in PACKAGE.rglob("*.py"):
        if "configs" in path.relative_to(PACKAGE).parts:
            continue  # config files are user code run by load_config, not the package
        e, lz = _imports(path)
        for name in e:
            eager.setdefault(name, []).append(str(path.relative_to(PACKAGE)))
        for name in lz:
            lazy.setdefault(name, []).append(str(path.relative_to(PACKAGE)))
    return eager, lazy


def test_import_time_dependencies_are_torch_numpy_and_pyav():
    eager, _ = _package_imports()
    third_party = {n: f for n, f in eager.items() if n not in sys.stdlib_module_names}
    third_party.pop("vidlab", None)
    # tqdm is a dependency too, but imported only where a progress bar is drawn
    assert set(third_party) <= REQUIRED, {n: third_party[n] for n in set(third_party) - REQUIRED}


def test_no_openmmlab_torchvision_or_moviepy_import_anywhere():
    eager, lazy = _package_imports()
    found = {n: eager.get(n, []) + lazy.get(n, []) for n in NEVER if n in eager or n in lazy}
    assert found == {}


def test_optional_packages_are_declared_as_extras():
    """Every package imported lazily is in pyproject's extras (so the error can name one)."""
    _, lazy = _package_imports()
    meta = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    declared = " ".join(meta["dependencies"])
    for extra in meta["optional-dependencies"].values():
        declared += " " + " ".join(extra)
    distribution = {"cv2": "opencv-python-headless", "yaml": "pyyaml"}
    third_party = {n for n in lazy if n not in sys.stdlib_module_names and n != "vidlab"}
    undeclared = {n for n in third_party if distribution.get(n, n) not in declared}
    assert undeclared == set(), undeclared


def test_pure_python_package_with_the_documented_minimums():
    compiled = [
        p
        for p in PACKAGE.rglob("*")
        if p.suffix in {".c", ".cc", ".cpp", ".cu", ".pyx", ".so", ".pyd", ".dll"}
    ]
    assert compiled == []
    text = PYPROJECT.read_text(encoding="utf-8")
    assert "ext_modules" not in text and "Extension" not in text
    meta = tomllib.loads(text)["project"]
    assert meta["requires-python"] == ">=3.10"
    assert "torch>=2.1" in meta["dependencies"]
    assert {d.split(">")[0].split("=")[0] for d in meta["dependencies"]} == REQUIRED
    assert not (ROOT / "setup.py").exists()
