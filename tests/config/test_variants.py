"""A model variant name as a config ``type``: the hook into ``vidlab.models.variants``.

The variants table belongs to the models package; these tests put a fake table module in
``sys.modules`` so they check the config side alone.
"""

from __future__ import annotations

import sys
import types

import pytest
from vidlab_test_components import Backbone, closed_variant_fn, variant_fn

from vidlab.config import Config, ConfigError, build, find_problems, resolve_type
from vidlab.config.names import NAMES
from vidlab.config.resolve import VARIANTS_MODULE

M = "vidlab_test_components"


@pytest.fixture
def table(monkeypatch):
    """A fake ``vidlab.models.variants`` with two variants; it records every call."""
    variants = {"tsm_r50_1x1x8": variant_fn, "tsn_closed": closed_variant_fn}
    mod = types.ModuleType(VARIANTS_MODULE)
    mod.calls = []

    def find_variant(name):
        mod.calls.append(("find_variant", name))
        return variants.get(name)

    def variant_names():
        mod.calls.append(("variant_names",))
        return sorted(variants)

    mod.find_variant = find_variant
    mod.variant_names = variant_names
    monkeypatch.setitem(sys.modules, VARIANTS_MODULE, mod)
    return mod


def test_variant_name_resolves_after_names(table, monkeypatch):
    assert resolve_type("tsm_r50_1x1x8") is variant_fn
    assert table.calls == [("find_variant", "tsm_r50_1x1x8")]
    # a name of the table wins, and the variants are not consulted for it
    monkeypatch.setitem(NAMES, "tsm_r50_1x1x8", f"{M}:Backbone")
    table.calls.clear()
    assert resolve_type("tsm_r50_1x1x8") is Backbone
    assert table.calls == []


def test_only_plain_names_are_variants(table):
    with pytest.raises(ConfigError, match="no module of that dotted path"):
        resolve_type("nonexistent_pkg_xyz.tsm_r50_1x1x8")
    with pytest.raises(ConfigError, match="ModuleNotFoundError"):
        resolve_type("nonexistent_pkg_xyz:tsm_r50_1x1x8")
    assert ("find_variant", "tsm_r50_1x1x8") not in table.calls


def test_unknown_name_suggests_variants(table):
    with pytest.raises(ConfigError) as info:
        resolve_type("tsm_r50_1x1x9", key_path="model")
    assert "model: unknown type 'tsm_r50_1x1x9'; did you mean 'tsm_r50_1x1x8'?" in str(info.value)
    assert table.calls == [("find_variant", "tsm_r50_1x1x9"), ("variant_names",)]
    # the table's names still come first in suggestions
    with pytest.raises(ConfigError, match="did you mean 'ResNet'"):
        resolve_type("ResNett")


def test_variant_names_are_read_only_for_a_suggestion(table, monkeypatch):
    monkeypatch.setitem(NAMES, "TestBackbone", f"{M}:Backbone")
    resolve_type("TestBackbone")
    resolve_type("tsm_r50_1x1x8")
    assert ("variant_names",) not in table.calls


def test_build_a_variant_node(table):
    model = build(Config(type="tsm_r50_1x1x8", num_classes=174, dropout=0.5))
    assert model == ("variant", 174, {"dropout": 0.5})


def test_validate_a_variant_node_like_a_function(table):
    cfg = Config(
        a=dict(type="tsm_r50_1x1x8", num_classes=174, anything=1),  # **kwargs: anything goes
        b=dict(type="tsn_closed", num_clases=174),
        c=dict(type="tsm_r50_1x1x9"),
    )
    assert find_problems(cfg) == [
        "<config>: b: tsn_closed got an unexpected keyword 'num_clases'; "
        "did you mean 'num_classes'?",
        "<config>: c: unknown type 'tsm_r50_1x1x9'; did you mean 'tsm_r50_1x1x8'?",
    ]


def test_a_failing_family_import_is_reported_with_its_cause(table):
    def find_variant(name):
        raise ImportError("the family module is broken")

    table.find_variant = find_variant
    with pytest.raises(ConfigError) as info:
        resolve_type("tsm_r50_1x1x8", key_path="model")
    msg = str(info.value)
    assert "model: type 'tsm_r50_1x1x8' was looked up among model variants, and importing" in msg
    assert "ImportError: the family module is broken" in msg
    assert isinstance(info.value.__cause__, ImportError)


def test_no_table_means_no_variants(monkeypatch):
    monkeypatch.setitem(sys.modules, VARIANTS_MODULE, None)  # as if the module did not exist
    with pytest.raises(ConfigError) as info:
        resolve_type("tsm_r50_1x1x8")
    assert str(info.value) == "unknown type 'tsm_r50_1x1x8'"


def test_a_failing_table_import_is_reported(monkeypatch):
    def import_module(name):
        assert name == VARIANTS_MODULE
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    resolve_module = sys.modules["vidlab.config.resolve"]
    monkeypatch.setattr(
        resolve_module, "importlib", types.SimpleNamespace(import_module=import_module)
    )
    with pytest.raises(ConfigError) as info:
        resolve_type("tsm_r50_1x1x8")
    msg = str(info.value)
    assert "unknown type 'tsm_r50_1x1x8': looking it up among model variants failed" in msg
    assert "pip install torch" in msg
    assert isinstance(info.value.__cause__, ModuleNotFoundError)
