"""Fixtures for the config tests; loads components.py as ``vidlab_test_components``."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest

MODULE = "vidlab_test_components"
if MODULE not in sys.modules:
    _spec = importlib.util.spec_from_file_location(
        MODULE, Path(__file__).with_name("components.py")
    )
    _mod = importlib.util.module_from_spec(_spec)
    sys.modules[MODULE] = _mod
    _spec.loader.exec_module(_mod)


@pytest.fixture
def components():
    """The module of small test classes; its constructor call log is cleared."""
    mod = sys.modules[MODULE]
    mod.CALLS.clear()
    return mod


@pytest.fixture
def write(tmp_path):
    """write("name.py", text) -> path: a dedented file under tmp_path (folders created)."""

    def _write(name: str, text: str):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return _write
