"""Every short name of the static table resolves to the object at its listed path."""

import importlib

import pytest

from vidlab.config import resolve_type
from vidlab.config.names import NAMES


@pytest.mark.parametrize("name", sorted(NAMES))
def test_every_name_resolves(name):
    module, attr = NAMES[name].split(":")
    assert resolve_type(name) is getattr(importlib.import_module(module), attr)
    assert callable(resolve_type(name))
