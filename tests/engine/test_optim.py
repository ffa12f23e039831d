"""Optimizers from ``optim_wrapper`` configs: wrapper options, lr scaling, clipping, errors."""

from __future__ import annotations

import importlib

import pytest
import torch
from engine_helpers import SGD, Net
from torch import nn

from vidlab.engine.optim import build_optimizer, clip_gradients


def test_lr_scale_multiplies_every_lr():
    m = Net()
    cfg = dict(
        optimizer=SGD, constructor="TSMOptimWrapperConstructor", paramwise_cfg=dict(fc_lr5=True)
    )
    a = build_optimizer(m, cfg)
    b = build_optimizer(m, cfg, lr_scale=0.25)
    for ga, gb in zip(a.optimizer.param_groups, b.optimizer.param_groups):
        assert gb["lr"] == pytest.approx(ga["lr"] * 0.25)
    assert b.optimizer.defaults["lr"] == pytest.approx(0.0025)


def test_wrapper_options():
    m = Net()
    s = build_optimizer(
        m, dict(optimizer=SGD, clip_grad=dict(max_norm=40, norm_type=2), accumulative_counts=4)
    )
    assert s.clip_grad == {"max_norm": 40.0, "norm_type": 2.0} and s.accumulative_counts == 4
    s = build_optimizer(m, dict(type="AmpOptimWrapper", optimizer=SGD))
    assert s.amp_dtype is torch.float16 and s.loss_scale == "dynamic" and s.amp
    s = build_optimizer(
        m, dict(type="AmpOptimWrapper", dtype="bfloat16", loss_scale=512.0, optimizer=SGD)
    )
    assert s.amp_dtype is torch.bfloat16 and s.loss_scale == 512.0
    s = build_optimizer(m, dict(optimizer=SGD, clip_grad=dict(type="value", clip_value=0.1)))
    assert s.clip_grad == {"type": "value", "clip_value": 0.1}


def test_clip_gradients():
    m = nn.Linear(2, 1, bias=False)
    s = build_optimizer(m, dict(optimizer=SGD, clip_grad=dict(max_norm=1.0)))
    m.weight.grad = torch.tensor([[3.0, 4.0]])
    assert s.clip_gradients() == pytest.approx(5.0)
    assert m.weight.grad.norm().item() == pytest.approx(1.0, rel=1e-5)
    m.weight.grad = torch.tensor([[3.0, -4.0]])
    clip_gradients(s.optimizer, {"type": "value", "clip_value": 0.5})
    assert m.weight.grad.tolist() == [[0.5, -0.5]]
    assert clip_gradients(s.optimizer, None) is None


def test_config_errors():
    m = Net()
    with pytest.raises(
        ValueError,
        match=r"optim_wrapper\.optimizer\.type: unknown type 'SDG'; did you mean 'SGD'",
    ):
        build_optimizer(m, dict(optimizer=dict(type="SDG", lr=0.1)))
    with pytest.raises(
        ValueError,
        match=r"optim_wrapper\.optimizer\.momentun: SGD has no option 'momentun'; did you mean 'momentum'",
    ):
        build_optimizer(m, dict(optimizer=dict(type="SGD", lr=0.1, momentun=0.9)))
    with pytest.raises(
        ValueError,
        match=r"optim_wrapper\.constructor: unknown type 'TSMOptimWraperConstructor'.*'TSMOptimWrapperConstructor'",
    ):
        build_optimizer(m, dict(optimizer=SGD, constructor="TSMOptimWraperConstructor"))
    with pytest.raises(
        ValueError, match=r"optim_wrapper\.type: unknown type 'AMPOptimWrapper'.*'AmpOptimWrapper'"
    ):
        build_optimizer(m, dict(type="AMPOptimWrapper", optimizer=SGD))
    with pytest.raises(ValueError, match=r"optim_wrapper\.clip_grads: unexpected key"):
        build_optimizer(m, dict(optimizer=SGD, clip_grads=dict(max_norm=1)))
    with pytest.raises(ValueError, match="accumulative_counts must be an integer >= 1"):
        build_optimizer(m, dict(optimizer=SGD, accumulative_counts=0))
    with pytest.raises(ValueError, match="needs optim_wrapper.optimizer.weight_decay"):
        build_optimizer(
            m, dict(optimizer=dict(type="SGD", lr=0.1), paramwise_cfg=dict(norm_decay_mult=0.0))
        )
    with pytest.raises(ValueError, match="optim_wrapper.optimizer must be a dict with a type"):
        build_optimizer(m, dict(optimizer=None))
    # optimizer classes may be given as objects (new-style MMEngine configs)
    assert isinstance(
        build_optimizer(m, dict(optimizer=dict(type=torch.optim.Adam, lr=1e-3))).optimizer,
        torch.optim.Adam,
    )


def test_holders_exist_at_name_table_paths():
    from vidlab.config.names import NAMES

    for name in (
        "OptimWrapper",
        "AmpOptimWrapper",
        "DefaultOptimWrapperConstructor",
        "TSMOptimWrapperConstructor",
        "LearningRateDecayOptimizerConstructor",
        "LinearLR",
        "ConstantLR",
        "CosineAnnealingLR",
        "MultiStepLR",
        "StepLR",
        "PolyLR",
        "ExponentialLR",
        "OneCycleLR",
        "CosineAnnealingMomentum",
        "LinearMomentum",
    ):
        mod, _, attr = NAMES[name].partition(":")
        assert getattr(importlib.import_module(mod), attr).__name__ == name
    from vidlab.compat.mmengine import AmpOptimWrapper, OptimWrapper

    w = OptimWrapper(
        optimizer=dict(type="SGD"),
        clip_grad=None,
        accumulative_counts=2,
        paramwise_cfg={},
        constructor="TSMOptimWrapperConstructor",
    )
    assert w.accumulative_counts == 2
    assert AmpOptimWrapper(dtype="bfloat16").loss_scale == "dynamic"
