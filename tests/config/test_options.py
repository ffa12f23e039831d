"""``cfg_options``: value parsing and key paths (dicts, list indices, new keys)."""

from __future__ import annotations

import math

import pytest

from vidlab.config import ConfigError, apply_options, load_config, parse_option_value


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1", 1),
        ("-3", -3),
        ("0.1", 0.1),
        ("1e-3", 1e-3),
        ("True", True),
        ("true", True),
        ("False", False),
        ("false", False),
        ("None", None),
        ("none", None),
        ("[1,2]", [1, 2]),
        ("[1, 2.5, x]", [1, 2.5, "x"]),
        ("(1,2)", (1, 2)),
        ("(224, 224)", (224, 224)),
        ("(1,)", (1,)),
        ("()", ()),
        ("[]", []),
        ("a,b,c", ["a", "b", "c"]),
        ("1,2", [1, 2]),
        ("[(1,2),(3,4)]", [(1, 2), (3, 4)]),
        ("[[1,[2,3]],4]", [[1, [2, 3]], 4]),
        ("'x'", "x"),
        ('"x"', "x"),
        ("'1'", "1"),
        ("'a,b'", "a,b"),
        ("['a,b', c]", ["a,b", "c"]),
        ("acc/top1", "acc/top1"),
        ("torchvision://resnet50", "torchvision://resnet50"),
        ("{'a': 1}", {"a": 1}),
        ("", ""),
    ],
)
def test_parse_option_value(text, expected):
    value = parse_option_value(text)
    assert value == expected
    assert type(value) is type(expected)


def test_parse_inf():
    assert math.isinf(parse_option_value("inf"))


@pytest.fixture
def cfg(write):
    path = write(
        "cfg.py",
        """
        model = dict(backbone=dict(depth=50, strides=(1, 2, 2, 2)), cls_head=dict(num_classes=400))
        train_dataloader = dict(
            batch_size=8,
            dataset=dict(pipeline=[
                dict(type='DecordInit'),
                dict(type='SampleFrames', clip_len=1, num_clips=8),
                dict(type='Resize', scale=(-1, 256)),
            ]))
        param_scheduler = [dict(type='LinearLR', end=5), dict(type='MultiStepLR', milestones=[20, 40])]
        optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01))
        """,
    )
    return path


def test_every_value_kind_and_path(cfg):
    options = [
        "model.backbone.depth=101",
        "optim_wrapper.optimizer.lr=0.02",
        "model.backbone.norm_eval=True",
        "model.cls_head.dropout_ratio=None",
        "param_scheduler.1.milestones=[10,15]",
        "train_dataloader.dataset.pipeline.2.scale=(128,128)",
        "train_dataloader.dataset.pipeline.-1.keep_ratio=false",
        "model.backbone.strides.0=2",
        "model.cls_head.num_classes=10",
        "model.neck.type=Identity",  # new nested dict under an existing dict
        "compile=True",  # new top-level key
        "work_dir='out/exp 1'",
        "default_hooks.checkpoint.save_best=acc/top1",
        "val_evaluator.metric_list=top_k_accuracy,mean_class_accuracy",
    ]
    c = load_config(cfg, options)
    assert c.model.backbone.depth == 101
    assert c.optim_wrapper.optimizer.lr == 0.02
    assert c.model.backbone.norm_eval is True
    assert c.model.cls_head.dropout_ratio is None
    assert c.param_scheduler[1].milestones == [10, 15]
    assert c.train_dataloader.dataset.pipeline[2].scale == (128, 128)
    assert c.train_dataloader.dataset.pipeline[2].keep_ratio is False
    assert c.model.backbone.strides == (2, 2, 2, 2)
    assert isinstance(c.model.backbone.strides, tuple)
    assert c.model.cls_head.num_classes == 10
    assert c.model.neck == dict(type="Identity")
    assert c.compile is True
    assert c.work_dir == "out/exp 1"
    assert c.default_hooks.checkpoint.save_best == "acc/top1"
    assert c.val_evaluator.metric_list == ["top_k_accuracy", "mean_class_accuracy"]


def test_dict_options(cfg):
    c = load_config(cfg, {"model.backbone.depth": 18, "amp": True})
    assert c.model.backbone.depth == 18 and c.amp is True


def test_option_errors(cfg):
    with pytest.raises(ConfigError, match="has no '='.*KEY=VALUE"):
        load_config(cfg, ["model.backbone.depth"])
    with pytest.raises(ConfigError, match="index 5 is out of range for param_scheduler"):
        load_config(cfg, ["param_scheduler.5.end=3"])
    with pytest.raises(ConfigError, match="must be an index, not 'first'"):
        load_config(cfg, ["param_scheduler.first.end=3"])
    with pytest.raises(ConfigError, match=r"model.backbone.depth.*int \(50\)"):
        load_config(cfg, ["model.backbone.depth.x=3"])
    with pytest.raises(ConfigError, match="empty"):
        load_config(cfg, ["model..depth=3"])


def test_apply_options_in_place():
    from vidlab.config import Config

    c = Config(a=dict(b=[1, 2]))
    assert apply_options(c, ["a.b.1=5", "a.c=x"]) is c
    assert c == dict(a=dict(b=[1, 5], c="x"))


def test_set_values_become_config_nodes():
    from vidlab.config import Config

    c = Config(a=dict(b=[dict(x=1), 2, (3, dict(y=1))]))
    apply_options(c, {"a.b.1": {"y": 2}, "a.new.deep": 3, "a.b.0.z": {"w": 1}, "a.b.2.0": {"v": 0}})
    assert c.a.b[1].y == 2 and isinstance(c.a.b[1], Config)
    assert c.a.new.deep == 3 and isinstance(c.a.new, Config)
    assert c.a.b[0].z.w == 1 and isinstance(c.a.b[0].z, Config)
    assert isinstance(c.a.b[2], tuple) and c.a.b[2][0].v == 0 and c.a.b[2][1].y == 1
