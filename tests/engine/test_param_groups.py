"""Parameter groups from ``optim_wrapper.paramwise_cfg`` / ``constructor``, their names and
their comparison."""

from __future__ import annotations

import pytest
import torch
from engine_helpers import SGD, Head, Net
from engine_helpers import by_param as _by_param
from torch import nn

from vidlab.engine.optim import build_optimizer
from vidlab.engine.param_groups import compare_group_layout, describe_param_groups


def test_plain_single_group():
    m = Net()
    s = build_optimizer(m, dict(optimizer=SGD))
    assert isinstance(s.optimizer, torch.optim.SGD)
    assert len(s.optimizer.param_groups) == 1
    assert s.group_names == ["all: backbone, cls_head (lr 0.01, wd 0.0001, 11 params)"]
    assert s.clip_grad is None and s.accumulative_counts == 1 and s.amp_dtype is None


def test_norm_and_bias_decay_off():
    m = Net()
    s = build_optimizer(
        m, dict(optimizer=SGD, paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))
    )
    p = _by_param(s, m)
    assert p["backbone.conv1.weight"][:2] == (0.01, 1e-4)
    assert p["backbone.bn1.weight"][:2] == (0.01, 0.0)
    assert p["backbone.bn1.bias"][:2] == (0.01, 0.0)
    assert p["backbone.layer2.1.weight"][:2] == (0.01, 0.0)  # LayerNorm is a norm layer
    assert p["backbone.dw.bias"][:2] == (0.01, 0.0)
    assert p["cls_head.fc_cls.bias"][:2] == (0.01, 0.0)
    assert p["cls_head.fc_cls.weight"][:2] == (0.01, 1e-4)
    # merged: default / norm / bias groups, named by rule and top-level module
    assert [n.split(" (")[0] for n in s.group_names] == [
        "default: backbone, cls_head",
        "norm: backbone",
        "bias: backbone, cls_head",
    ]
    assert s.group_names[1].endswith("(lr 0.01, wd 0, 4 params)")


def test_bias_lr_dwconv_and_flat_decay():
    m = Net()
    cfg = dict(
        optimizer=SGD,
        paramwise_cfg=dict(bias_lr_mult=2.0, dwconv_decay_mult=0.5, flat_decay_mult=0.0),
    )
    p = _by_param(build_optimizer(m, cfg), m)
    assert p["backbone.dw.weight"][:2] == (0.01, 0.5e-4)
    assert p["backbone.dw.bias"][:2] == (0.02, 0.5e-4)  # lr from the bias rule, wd from dwconv
    assert p["cls_head.fc_cls.bias"][:2] == (0.02, 0.0)  # 1-D: flat_decay_mult
    assert p["backbone.bn1.bias"][:2] == (0.01, 0.0)  # norm bias: no bias_lr_mult
    assert p["backbone.conv1.weight"][:2] == (0.01, 1e-4)


def test_custom_keys_longest_match_wins():
    m = Net()
    cfg = dict(
        optimizer=SGD,
        paramwise_cfg=dict(
            norm_decay_mult=0.0,
            custom_keys={
                "backbone": dict(lr_mult=0.1, decay_mult=1.0),
                "backbone.layer2": dict(lr_mult=0.5, decay_mult=0.0),
            },
        ),
    )
    s = build_optimizer(m, cfg)
    p = _by_param(s, m)
    assert p["backbone.conv1.weight"][:2] == pytest.approx((0.001, 1e-4))
    assert p["backbone.bn1.weight"][:2] == pytest.approx(
        (0.001, 1e-4)
    )  # custom key overrides norm rule
    assert p["backbone.layer2.0.weight"][:2] == pytest.approx((0.005, 0.0))
    assert p["cls_head.fc_cls.weight"][:2] == (0.01, 1e-4)
    assert s.group_names[0].startswith("custom[backbone]: backbone (lr 0.001, wd 0.0001, ")


def test_custom_key_extra_options_and_adamw():
    m = Net()
    cfg = dict(
        optimizer=dict(type="AdamW", lr=1e-3, weight_decay=0.05),
        paramwise_cfg=dict(custom_keys={"cls_head": dict(lr_mult=10, betas=(0.8, 0.99))}),
    )
    s = build_optimizer(m, cfg)
    g = [g for g in s.optimizer.param_groups if g["group_name"].startswith("custom")][0]
    assert g["lr"] == pytest.approx(1e-2) and tuple(g["betas"]) == (0.8, 0.99)
    assert "betas (0.8, 0.99)" in [n for n in s.group_names if n.startswith("custom")][0]


def test_frozen_params_get_no_group_and_no_state():
    m = Net()
    m.backbone.conv1.weight.requires_grad_(False)
    m.backbone.bn1.requires_grad_(False)
    for cfg in (
        dict(optimizer=SGD),
        dict(optimizer=SGD, paramwise_cfg=dict(norm_decay_mult=0.0)),
        dict(
            optimizer=SGD, constructor="TSMOptimWrapperConstructor", paramwise_cfg=dict(fc_lr5=True)
        ),
    ):
        s = build_optimizer(m, cfg)
        p = _by_param(s, m)
        assert "backbone.conv1.weight" not in p and "backbone.bn1.weight" not in p
        assert all(len(g["params"]) for g in s.optimizer.param_groups)  # no empty group
    loss = m.cls_head.fc_cls(m.backbone(torch.randn(1, 3, 8, 8)).mean((2, 3))).sum()
    loss.backward()
    s.optimizer.step()
    assert m.backbone.conv1.weight not in s.optimizer.state


def test_custom_key_can_freeze():
    m = Net()
    cfg = dict(optimizer=SGD, paramwise_cfg=dict(custom_keys={"bn1": dict(requires_grad=False)}))
    p = _by_param(build_optimizer(m, cfg), m)
    assert "backbone.bn1.weight" not in p and not m.backbone.bn1.weight.requires_grad


def test_no_trainable_parameter():
    m = Net().requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameter"):
        build_optimizer(m, dict(optimizer=SGD))


def test_tsm_fc_lr5_groups():
    m = Net()
    m.backbone.layer2[1] = nn.BatchNorm2d(4)  # TSM's rule has no LayerNorm in MMAction2's list
    cfg = dict(
        optimizer=SGD, constructor="TSMOptimWrapperConstructor", paramwise_cfg=dict(fc_lr5=True)
    )
    s = build_optimizer(m, cfg)
    got = [
        (g["group_name"].split(":")[0], g["lr"], g["weight_decay"], len(g["params"]))
        for g in s.optimizer.param_groups
    ]
    assert got == [
        ("first_conv_weight", 0.01, 1e-4, 1),  # backbone.conv1.weight (no bias: group dropped)
        ("normal_weight", 0.01, 1e-4, 2),  # dw.weight, layer2.0.weight
        ("normal_bias", 0.02, 0, 2),  # dw.bias, layer2.0.bias
        ("bn", 0.01, 0, 4),  # bn1, layer2.1
        ("lr5_weight", 0.05, 1e-4, 1),  # cls_head.fc_cls.weight
        ("lr10_bias", 0.1, 0, 1),  # cls_head.fc_cls.bias
    ]
    p = _by_param(s, m)
    assert p["cls_head.fc_cls.weight"][2] == 4 and p["backbone.conv1.weight"][2] == 0
    # without fc_lr5 the classifier is an ordinary layer
    s = build_optimizer(m, dict(cfg, paramwise_cfg=dict(fc_lr5=False)))
    assert [g["group_name"].split(":")[0] for g in s.optimizer.param_groups] == [
        "first_conv_weight",
        "normal_weight",
        "normal_bias",
        "bn",
    ]
    assert _by_param(s, m)["cls_head.fc_cls.bias"][:2] == (0.02, 0)
    # a layer type MMAction2's rule does not know
    m.backbone.add_module("emb", nn.Embedding(3, 4))
    with pytest.raises(ValueError, match="no learning-rate rule for Embedding"):
        build_optimizer(m, cfg)


class TinyViT(nn.Module):
    def __init__(self, depth=3, stages=False):
        super().__init__()
        self.backbone = nn.Module()
        self.backbone.cls_token = nn.Parameter(torch.zeros(1, 1, 4))
        self.backbone.pos_embed = nn.Parameter(torch.zeros(1, 5, 4))
        self.backbone.patch_embed = nn.Module()
        self.backbone.patch_embed.proj = nn.Conv3d(3, 4, 2)
        blocks = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(4), nn.Linear(4, 4)) for _ in range(depth)
        )
        if stages:
            self.backbone.stages = blocks
        else:
            self.backbone.blocks = blocks
        self.backbone.norm = nn.LayerNorm(4)
        self.cls_head = Head(4, 2)


def test_layer_wise_decay_ids_and_rates():
    """MMAction2's grouping exactly (``no_decay_names=()``)."""
    m = TinyViT(depth=3)
    cfg = dict(
        optimizer=dict(type="AdamW", lr=1.0, weight_decay=0.05),
        constructor="LearningRateDecayOptimizerConstructor",
        paramwise_cfg=dict(
            num_layers=3, decay_rate=0.5, decay_type="layer_wise", no_decay_names=()
        ),
    )
    s = build_optimizer(m, cfg)
    p = _by_param(s, m)
    # id 0 (cls_token, pos_embed, patch_embed): 0.5 ** (3 - 0 + 1)
    assert p["backbone.cls_token"][:2] == (0.0625, 0.05)  # 3-D token: decayed, as MMAction2
    assert p["backbone.pos_embed"][:2] == (0.0625, 0.05)
    assert p["backbone.patch_embed.proj.weight"][:2] == (0.0625, 0.05)
    assert p["backbone.patch_embed.proj.bias"][:2] == (0.0625, 0.0)
    # blocks.N -> id N + 1
    assert p["backbone.blocks.0.1.weight"][:2] == (0.125, 0.05)
    assert p["backbone.blocks.0.0.weight"][:2] == (0.125, 0.0)  # 1-D: no decay
    assert p["backbone.blocks.2.1.weight"][:2] == (0.5, 0.05)
    # everything else -> num_layers + 1 -> rate ** 0
    assert p["backbone.norm.weight"][:2] == (1.0, 0.0)
    assert p["cls_head.fc_cls.weight"][:2] == (1.0, 0.05)
    labels = [g["group_name"].split(":")[0] for g in s.optimizer.param_groups]
    assert labels[:3] == ["layer_0_decay", "layer_0_no_decay", "layer_1_no_decay"]
    assert "layer_4_decay" in labels and len(labels) == len(set(labels))


def test_layer_wise_decay_exempts_position_embeddings_and_cls_tokens():
    """By default position tables and class tokens get no weight decay, matched by the last
    name component at any depth; their learning rate is unchanged."""
    m = TinyViT(depth=2)
    m.backbone.time_embed = nn.Parameter(torch.zeros(1, 2, 4))  # TimeSformer
    m.backbone.blocks[1].add_module("attn", nn.Module())
    m.backbone.blocks[1].attn.rel_pos_h = nn.Parameter(torch.zeros(3, 4))  # MViTv2, nested
    m.backbone.blocks[1].attn.pos_embed = nn.Conv3d(4, 4, 3)  # a conv encoding: a weight
    optim = dict(
        optimizer=dict(type="AdamW", lr=1.0, weight_decay=0.05),
        constructor="LearningRateDecayOptimizerConstructor",
        paramwise_cfg=dict(num_layers=2, decay_rate=0.5),
    )
    p = _by_param(build_optimizer(m, optim), m)
    for name in ("cls_token", "pos_embed", "time_embed", "blocks.1.attn.rel_pos_h"):
        assert p[f"backbone.{name}"][1] == 0.0, name
    assert p["backbone.pos_embed"][0] == p["backbone.patch_embed.proj.weight"][0] == 0.125
    assert p["backbone.blocks.1.attn.rel_pos_h"][0] == 0.5  # block 1 -> id 2
    assert p["backbone.blocks.1.attn.pos_embed.weight"][1] == 0.05
    assert p["backbone.blocks.1.1.weight"][1] == 0.05
    s = build_optimizer(m, optim)
    names = {id(q): k for k, q in m.named_parameters()}
    labels = {names[id(x)]: g["group_name"].split(":")[0] for g in s.optimizer.param_groups
              for x in g["params"]}  # fmt: skip
    assert labels["backbone.cls_token"] == "layer_0_no_decay"
    # MMAction2's grouping on request: only 1-D tensors and biases are exempt
    optim["paramwise_cfg"] = dict(num_layers=2, decay_rate=0.5, no_decay_names=[])
    p = _by_param(build_optimizer(m, optim), m)
    for name in ("cls_token", "pos_embed", "time_embed", "blocks.1.attn.rel_pos_h"):
        assert p[f"backbone.{name}"][1] == 0.05, name
    # or a list of one's own
    optim["paramwise_cfg"]["no_decay_names"] = ["time_embed"]
    p = _by_param(build_optimizer(m, optim), m)
    assert p["backbone.time_embed"][1] == 0.0 and p["backbone.pos_embed"][1] == 0.05
    optim["paramwise_cfg"]["no_decay_names"] = "pos_embed"
    with pytest.raises(ValueError, match="no_decay_names must be a list of parameter names"):
        build_optimizer(m, optim)


def test_stage_wise_decay_and_missing_blocks():
    m = TinyViT(depth=2, stages=True)
    cfg = dict(
        optimizer=dict(type="AdamW", lr=1.0, weight_decay=0.05),
        constructor="LearningRateDecayOptimizerConstructor",
        paramwise_cfg=dict(num_layers=2, decay_rate=0.5, decay_type="stage_wise"),
    )
    p = _by_param(build_optimizer(m, cfg), m)
    assert p["backbone.patch_embed.proj.weight"][0] == 0.125
    assert p["backbone.stages.0.1.weight"][0] == 0.25
    assert p["backbone.stages.1.1.weight"][0] == 0.5
    assert p["cls_head.fc_cls.weight"][0] == 1.0
    with pytest.raises(ValueError, match="no trainable parameter is named backbone.blocks.N"):
        build_optimizer(m, dict(cfg, paramwise_cfg=dict(num_layers=2, decay_rate=0.5)))
    with pytest.raises(ValueError, match="paramwise_cfg.num_layers is required"):
        build_optimizer(m, dict(cfg, paramwise_cfg=dict(decay_rate=0.5)))


def test_shared_parameters():
    m = Net()
    m.backbone.add_module("shared", m.cls_head.fc_cls)  # the same module reachable twice
    with pytest.raises(ValueError, match="bypass_duplicate=True"):
        build_optimizer(m, dict(optimizer=SGD, paramwise_cfg=dict(norm_decay_mult=0.0)))
    with pytest.warns(UserWarning, match="skipped since bypass_duplicate"):
        s = build_optimizer(
            m, dict(optimizer=SGD, paramwise_cfg=dict(norm_decay_mult=0.0, bypass_duplicate=True))
        )
    assert sum(len(g["params"]) for g in s.optimizer.param_groups) == 11
    assert len(build_optimizer(m, dict(optimizer=SGD)).optimizer.param_groups[0]["params"]) == 11


def test_unwraps_compiled_or_dataparallel_names():
    m = Net()
    wrapped = nn.DataParallel(m)
    s = build_optimizer(
        wrapped,
        dict(optimizer=SGD, paramwise_cfg=dict(custom_keys={"backbone": dict(lr_mult=0.1)})),
    )
    assert s.group_names[0].startswith("custom[backbone]: backbone ")


def test_group_layout_comparison():
    m = Net()
    a = build_optimizer(m, dict(optimizer=SGD, paramwise_cfg=dict(norm_decay_mult=0.0))).group_names
    assert compare_group_layout(a, list(a)) == []
    m.backbone.add_module("bn2", nn.BatchNorm2d(4))
    b = build_optimizer(
        m, dict(optimizer=SGD, paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))
    ).group_names
    diff = compare_group_layout(a, b)
    assert "number of param groups: 2 in the checkpoint, 3 now" in diff
    assert any(
        d.startswith("group 'norm: backbone': 4 params in the checkpoint, 6 now") for d in diff
    )
    assert any(
        "is new (not in the checkpoint)" in d and d.startswith("group 2 'bias: backbone, cls_head")
        for d in diff
    )
    c = build_optimizer(
        Net(), dict(optimizer=dict(SGD, lr=0.02), paramwise_cfg=dict(norm_decay_mult=0.0))
    ).group_names
    assert compare_group_layout(a, c) == [
        "group 'default: backbone, cls_head': lr 0.01 in the checkpoint, 0.02 now",
        "group 'norm: backbone': lr 0.01 in the checkpoint, 0.02 now",
    ]
    assert compare_group_layout(a, c, structure_only=True) == []
    assert compare_group_layout(a, b, structure_only=True) == diff
    assert compare_group_layout(["x"], ["y"]) == ["group 0: checkpoint 'x', now 'y'"]


def test_describe_param_groups():
    m = Net()
    s = build_optimizer(m, dict(optimizer=SGD, paramwise_cfg=dict(norm_decay_mult=0.0)))
    d = describe_param_groups(s.optimizer)
    assert d[1]["name"] == "norm: backbone" and d[1]["weight_decay"] == 0.0
    assert d[1]["num_params"] == 4 and d[1]["num_elements"] == 16 and d[1]["momentum"] == 0.9
