"""MMCV's layer specs (``conv_cfg``, ``norm_cfg``, ``act_cfg``) translated to torch layers.

MMAction2 configs describe layers as ``dict(type='BN3d', requires_grad=True)``; these tables
are the whole vocabulary vidlab accepts there. Models call the ``build_*`` functions; nothing
else in vidlab speaks MMCV's layer names.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

import torch.nn as nn

CONV_LAYERS: dict[str, type[nn.Module] | str] = {
    "Conv": nn.Conv2d,
    "Conv1d": nn.Conv1d,
    "Conv2d": nn.Conv2d,
    "Conv3d": nn.Conv3d,
    # vidlab's own layers, named "module:attr" and imported when used (models import this file)
    "Conv2plus1d": "vidlab.models.layers.conv2plus1d:Conv2plus1d",
    "ConvAudio": "vidlab.models.audio:ConvAudio",
}

# name -> (class, abbreviation MMCV uses as the attribute name in a block: ``.bn``, ``.gn``...)
NORM_LAYERS: dict[str, tuple[type[nn.Module], str]] = {
    "BN": (nn.BatchNorm2d, "bn"),
    "BN1d": (nn.BatchNorm1d, "bn"),
    "BN2d": (nn.BatchNorm2d, "bn"),
    "BN3d": (nn.BatchNorm3d, "bn"),
    "SyncBN": (nn.SyncBatchNorm, "bn"),
    "GN": (nn.GroupNorm, "gn"),
    "LN": (nn.LayerNorm, "ln"),
    "IN": (nn.InstanceNorm2d, "in"),
    "IN1d": (nn.InstanceNorm1d, "in"),
    "IN2d": (nn.InstanceNorm2d, "in"),
    "IN3d": (nn.InstanceNorm3d, "in"),
}

ACT_LAYERS: dict[str, type[nn.Module]] = {
    "ReLU": nn.ReLU,
    "LeakyReLU": nn.LeakyReLU,
    "PReLU": nn.PReLU,
    "RReLU": nn.RReLU,
    "ReLU6": nn.ReLU6,
    "ELU": nn.ELU,
    "Sigmoid": nn.Sigmoid,
    "Tanh": nn.Tanh,
    "GELU": nn.GELU,
    "SiLU": nn.SiLU,
    "Swish": nn.SiLU,
    "HSigmoid": nn.Hardsigmoid,
    "HSwish": nn.Hardswish,
}
# Activations that take no ``inplace`` argument (MMCV leaves these alone too).
NO_INPLACE = frozenset({"Tanh", "PReLU", "Sigmoid", "HSigmoid", "Swish", "GELU"})


def _lookup(table: dict, cfg: Mapping, what: str):
    if not isinstance(cfg, Mapping) or "type" not in cfg:
        raise TypeError(f"{what} must be a dict with a 'type' key, got {cfg!r}")
    name = cfg["type"]
    if name not in table:
        raise KeyError(f"{what} type {name!r} is not supported; known: {sorted(table)}")
    return table[name]


def build_conv_layer(cfg: Mapping | None, *args, **kwargs) -> nn.Module:
    """A conv layer from ``dict(type='Conv'|'Conv1d'|'Conv2d'|'Conv3d'|'Conv2plus1d', ...)``;
    None: Conv2d."""
    cfg = {"type": "Conv2d"} if cfg is None else cfg
    layer_cls = _lookup(CONV_LAYERS, cfg, "conv_cfg")
    if isinstance(layer_cls, str):
        module, attr = layer_cls.split(":")
        layer_cls = getattr(importlib.import_module(module), attr)
    extra = {k: v for k, v in cfg.items() if k != "type"}
    return layer_cls(*args, **kwargs, **extra)


def build_norm_layer(cfg: Mapping, num_features: int) -> tuple[str, nn.Module]:
    """A norm layer and its MMCV abbreviation: ``(abbreviation, layer)``.

    ``requires_grad`` in ``cfg`` sets ``requires_grad`` of the layer's affine parameters.
    """
    layer_cls, abbr = _lookup(NORM_LAYERS, cfg, "norm_cfg")
    extra = {k: v for k, v in cfg.items() if k not in ("type", "requires_grad")}
    if layer_cls is nn.GroupNorm:
        if "num_groups" not in extra:
            raise KeyError("norm_cfg of type 'GN' needs 'num_groups'")
        layer = nn.GroupNorm(num_channels=num_features, **extra)
    else:
        layer = layer_cls(num_features, **extra)
    for param in layer.parameters():
        param.requires_grad = cfg.get("requires_grad", True)
    return abbr, layer


def build_activation_layer(cfg: Mapping, inplace: bool | None = None) -> nn.Module:
    """An activation from ``dict(type='ReLU', inplace=True)`` and friends.

    ``inplace`` is the default for activations that take the argument, when ``cfg`` has none.
    """
    layer_cls = _lookup(ACT_LAYERS, cfg, "act_cfg")
    extra = {k: v for k, v in cfg.items() if k != "type"}
    if inplace is not None and cfg["type"] not in NO_INPLACE:
        extra.setdefault("inplace", inplace)
    return layer_cls(**extra)
