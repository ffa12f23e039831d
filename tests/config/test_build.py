"""``resolve_type`` and ``build``."""

from __future__ import annotations

import collections
import sys

import pytest
from vidlab_test_components import CALLS, Backbone, Dataset, Exploding, Head, Model

from vidlab.compat import ALIASES
from vidlab.config import Config, ConfigError, build, load_config, resolve_type
from vidlab.config.names import NAMES

MODULE = "vidlab_test_components"

# --- resolve_type ---------------------------------------------------------------------------


def test_resolve_forms(components, monkeypatch):
    assert resolve_type(Backbone) is Backbone
    assert resolve_type(f"{MODULE}:Backbone") is Backbone
    assert resolve_type(f"{MODULE}.Backbone") is Backbone
    assert resolve_type("collections.OrderedDict") is collections.OrderedDict
    assert resolve_type("collections:OrderedDict.fromkeys") == collections.OrderedDict.fromkeys
    monkeypatch.setitem(NAMES, "TestBackbone", f"{MODULE}:Backbone")
    assert resolve_type("TestBackbone") is Backbone
    for scope in ("mmaction", "mmengine", "mmdet", "mmpose"):
        assert resolve_type(f"{scope}.TestBackbone") is Backbone
    monkeypatch.setitem(ALIASES, "OldBackbone", "TestBackbone")
    assert resolve_type("OldBackbone") is Backbone


def test_resolve_real_names_without_vidlab_modules():
    # torch.optim names in the table resolve (torch is a dependency).
    import torch

    assert resolve_type("SGD") is torch.optim.SGD
    assert resolve_type("mmengine.AdamW") is torch.optim.AdamW


def test_unknown_type_did_you_mean():
    with pytest.raises(ConfigError) as info:
        resolve_type("ResNett", key_path="model.backbone", filename="/x/cfg.py")
    msg = str(info.value)
    assert "model.backbone: unknown type 'ResNett'; did you mean 'ResNet'" in msg
    assert "cfg.py" in msg
    with pytest.raises(ConfigError, match="did you mean 'SampleFrames'"):
        resolve_type("sampleframes")
    with pytest.raises(ConfigError, match="did you mean 'ResNetTSM'"):
        resolve_type("mmaction.ResNetTsm")
    with pytest.raises(ConfigError, match=r"no module of that dotted path"):
        resolve_type("nonexistent_pkg_xyz.Thing")


def test_import_failure_names_type_module_and_cause(monkeypatch):
    monkeypatch.setitem(NAMES, "NotWrittenYet", "vidlab.models.not_written_yet:NotWrittenYet")
    with pytest.raises(ConfigError) as info:
        resolve_type("NotWrittenYet", key_path="model.neck")
    msg = str(info.value)
    assert "model.neck:" in msg
    assert "'NotWrittenYet'" in msg
    assert "vidlab.models.not_written_yet" in msg
    assert "ModuleNotFoundError" in msg
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def test_missing_dependency_inside_module(tmp_path, monkeypatch):
    (tmp_path / "vidlab_needs_dep.py").write_text("import some_missing_dep_xyz\nclass A: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "vidlab_needs_dep", raising=False)
    monkeypatch.setitem(NAMES, "NeedsDep", "vidlab_needs_dep:A")
    with pytest.raises(ConfigError) as info:
        resolve_type("NeedsDep")
    msg = str(info.value)
    assert "vidlab_needs_dep" in msg and "some_missing_dep_xyz" in msg
    assert "pip install some_missing_dep_xyz" in msg


def test_missing_attribute(components):
    with pytest.raises(ConfigError, match=f"module {MODULE} has no attribute 'Nope'"):
        resolve_type(f"{MODULE}:Nope")


# --- build ----------------------------------------------------------------------------------


def _model_cfg():
    return Config(
        type=f"{MODULE}:Model",
        backbone=dict(
            type=f"{MODULE}:Backbone",
            depth=50,
            norm_cfg=dict(type="BN3d", requires_grad=True),
            init_cfg=[dict(type="Kaiming", layer="Conv2d")],
        ),
        cls_head=dict(type=Head, num_classes=10, loss_cls=dict(type=f"{MODULE}.Loss", weight=2.0)),
        train_cfg=dict(blending=[dict(type=f"{MODULE}:Loss")]),
        test_cfg=None,
    )


def test_build_nested_depth_first(components):
    cfg = _model_cfg()
    before = cfg.to_dict()
    model = build(cfg, key_path="model")
    assert isinstance(model, Model)
    assert isinstance(model.backbone, Backbone) and model.backbone.depth == 50
    assert isinstance(model.cls_head, Head) and model.cls_head.loss_cls.weight == 2.0
    # nested nodes inside plain dicts and lists are built too
    assert type(model.train_cfg) is dict
    assert type(model.train_cfg["blending"][0]).__name__ == "Loss"
    # MMCV layer specs (norm_cfg, init_cfg) are passed as plain dicts, not built
    assert model.backbone.norm_cfg == {"type": "BN3d", "requires_grad": True}
    assert type(model.backbone.norm_cfg) is dict
    assert model.backbone.init_cfg == [{"type": "Kaiming", "layer": "Conv2d"}]
    assert CALLS == ["Backbone(50)", "Loss", "Head", "Loss", "Model"]
    # the config is not changed by building
    assert cfg.to_dict() == before


def test_build_respects_lazy_args(components):
    node = dict(
        type=f"{MODULE}:Dataset",
        ann_file="a.txt",
        pipeline=[dict(type=f"{MODULE}:Step", size=3)],
        data_prefix=dict(video="root"),
    )
    ds = build(node)
    assert isinstance(ds, Dataset)
    assert ds.pipeline == [{"type": f"{MODULE}:Step", "size": 3}]
    assert type(ds.pipeline[0]) is dict
    ds.pipeline[0]["size"] = 99  # the dataset may change its copy freely
    assert node["pipeline"][0]["size"] == 3


def test_build_injected_and_list(components):
    sampler = build(dict(type=f"{MODULE}:Sampler", shuffle=False), dataset="DS")
    assert sampler.dataset == "DS" and sampler.shuffle is False
    # a value in the node wins over an injected default (MMEngine's default_args)
    assert build(dict(type=f"{MODULE}:Sampler", dataset="cfg"), dataset="inj").dataset == "cfg"
    scheds = build(
        [dict(type=f"{MODULE}:Sched"), dict(type=f"{MODULE}:Sched", end=3)],
        key_path="param_scheduler",
        optimizer="OPT",
    )
    assert [s.optimizer for s in scheds] == ["OPT", "OPT"]
    assert build(dict(type=f"{MODULE}:make_thing", x=1)) == ("thing", 1, 2)


def test_build_keeps_object_leaves(components):
    backbone = Backbone(18)
    model = build(dict(type=Model, backbone=backbone))
    assert model.backbone is backbone


def test_constructor_exception_propagates_with_note(components, write):
    path = write(
        "cfg.py",
        f"model = dict(type='{MODULE}:Model', backbone=dict(type='{MODULE}:Exploding', value=3))\n",
    )
    cfg = load_config(path)
    with pytest.raises(ValueError, match="bad value 3") as info:
        build(cfg.model, key_path="model")
    err = info.value
    assert type(err) is ValueError
    assert err.__cause__ is None
    notes = getattr(err, "__notes__", [])
    assert any("model.backbone" in n and "Exploding" in n and "cfg.py" in n for n in notes), notes
    # the outer Model was never called, so it adds no note
    assert len(notes) == 1


def test_constructor_exception_note_with_class_type(components):
    with pytest.raises(ValueError) as info:
        build(dict(type=Exploding), key_path="x.y")
    assert info.value.__notes__ == ["while building x.y (Exploding)"]


def test_build_bad_nodes(components):
    with pytest.raises(ConfigError, match="without a 'type'"):
        build(dict(depth=50), key_path="model.backbone")
    with pytest.raises(ConfigError, match="expected a dict with a 'type' key"):
        build("ResNet")
    with pytest.raises(ConfigError, match="model.backbone: unknown type 'ResNett'"):
        build(dict(type="Model", backbone=dict(type="ResNett")) | {"type": Model}, key_path="model")
