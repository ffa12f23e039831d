"""Fixtures of the engine tests; the tiny model, dataset and config are in ``engine_helpers``."""

from __future__ import annotations

import pytest
from engine_helpers import make_cfg


@pytest.fixture
def tiny_cfg(tmp_path):
    return lambda **kw: make_cfg(tmp_path / "work", **kw)
