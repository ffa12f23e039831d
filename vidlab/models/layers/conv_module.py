"""Conv + norm + activation block with MMCV's ``ConvModule`` state-dict layout.

A block holds ``.conv``, then the norm layer under its MMCV abbreviation (``.bn`` for every
BatchNorm flavour, ``.gn``, ``.ln``, ``.in``) and ``.activate``, so MMAction2 checkpoints load
without key maps (``backbone.conv1.conv.weight``, ``backbone.conv1.bn.running_mean``).
"""

from __future__ import annotations

import torch.nn as nn
from torch import Tensor

CONV_LAYERS: dict[str, type[nn.Module]] = {
    "Conv": nn.Conv2d,
    "Conv1d": nn.Conv1d,
    "Conv2d": nn.Conv2d,
    "Conv3d": nn.Conv3d,
}

# name -> (class, abbreviation used as the attribute name in the block)
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
_NO_INPLACE = {"Tanh", "PReLU", "Sigmoid", "HSigmoid", "Swish", "GELU"}


def _lookup(table: dict, cfg: dict, what: str):
    if not isinstance(cfg, dict) or "type" not in cfg:
        raise TypeError(f"{what} must be a dict with a 'type' key, got {cfg!r}")
    name = cfg["type"]
    if name not in table:
        raise KeyError(f"{what} type {name!r} is not supported; known: {sorted(table)}")
    return table[name]


def build_conv_layer(cfg: dict | None, *args, **kwargs) -> nn.Module:
    """Build a conv layer from ``dict(type='Conv'|'Conv1d'|'Conv2d'|'Conv3d', ...)``."""
    cfg = dict(type="Conv2d") if cfg is None else cfg
    layer_cls = _lookup(CONV_LAYERS, cfg, "conv_cfg")
    extra = {k: v for k, v in cfg.items() if k != "type"}
    return layer_cls(*args, **kwargs, **extra)


def build_norm_layer(cfg: dict, num_features: int) -> tuple[str, nn.Module]:
    """Build a norm layer; returns ``(abbreviation, layer)``.

    ``requires_grad`` in ``cfg`` sets ``requires_grad`` of the layer's affine parameters.
    """
    layer_cls, abbr = _lookup(NORM_LAYERS, cfg, "norm_cfg")
    extra = {k: v for k, v in cfg.items() if k not in ("type", "requires_grad")}
    requires_grad = cfg.get("requires_grad", True)
    if layer_cls is nn.GroupNorm:
        if "num_groups" not in extra:
            raise KeyError("norm_cfg of type 'GN' needs 'num_groups'")
        layer = nn.GroupNorm(num_channels=num_features, **extra)
    else:
        layer = layer_cls(num_features, **extra)
    for param in layer.parameters():
        param.requires_grad = requires_grad
    return abbr, layer


def build_activation_layer(cfg: dict) -> nn.Module:
    """Build an activation from ``dict(type='ReLU', inplace=True)`` and friends."""
    layer_cls = _lookup(ACT_LAYERS, cfg, "act_cfg")
    extra = {k: v for k, v in cfg.items() if k != "type"}
    return layer_cls(**extra)


class ConvModule(nn.Module):
    """Conv, then norm, then activation, with MMCV's argument names and submodule names.

    Args:
        in_channels: Input channels of the conv.
        out_channels: Output channels of the conv.
        kernel_size: Conv kernel size.
        stride: Conv stride.
        padding: Conv padding.
        dilation: Conv dilation.
        groups: Conv groups.
        bias: ``'auto'`` gives the conv a bias only when there is no norm layer.
        conv_cfg: ``dict(type='Conv'|'Conv2d'|'Conv3d'|...)``; None means Conv2d.
        norm_cfg: e.g. ``dict(type='BN', requires_grad=True)``; None means no norm.
        act_cfg: e.g. ``dict(type='ReLU')``; None means no activation.
        inplace: Default ``inplace`` for activations that take it.
        order: Order of ``'conv'``, ``'norm'`` and ``'act'``.
        padding_mode: Passed to the conv layer.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size=1,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool | str = "auto",
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = None,
        act_cfg: dict | None = dict(type="ReLU"),  # noqa: B006 (MMCV's default, never mutated)
        inplace: bool = True,
        order: tuple[str, str, str] = ("conv", "norm", "act"),
        padding_mode: str = "zeros",
    ) -> None:
        super().__init__()
        if set(order) != {"conv", "norm", "act"} or len(order) != 3:
            raise ValueError(f"order must be a permutation of ('conv', 'norm', 'act'), got {order}")
        self.order = tuple(order)
        self.with_norm = norm_cfg is not None
        self.with_activation = act_cfg is not None
        if bias == "auto":
            bias = not self.with_norm

        self.conv = build_conv_layer(
            conv_cfg,
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            groups=groups,
            bias=bias,
            padding_mode=padding_mode,
        )

        self.norm_name: str | None = None
        if self.with_norm:
            # A norm before the conv normalizes the conv's input.
            norm_channels = (
                out_channels if order.index("norm") > order.index("conv") else in_channels
            )
            self.norm_name, norm = build_norm_layer(norm_cfg, norm_channels)
            self.add_module(self.norm_name, norm)

        if self.with_activation:
            act_cfg = dict(act_cfg)
            if act_cfg["type"] not in _NO_INPLACE:
                act_cfg.setdefault("inplace", inplace)
            self.activate = build_activation_layer(act_cfg)

        self.init_weights()

    @property
    def norm(self) -> nn.Module | None:
        return getattr(self, self.norm_name) if self.norm_name else None

    def init_weights(self) -> None:
        """Kaiming-normal (fan_out) conv, unit-weight zero-bias norm, as MMCV does."""
        nonlinearity = "relu"
        negative_slope = 0.0
        if self.with_activation and isinstance(self.activate, nn.LeakyReLU):
            nonlinearity = "leaky_relu"
            negative_slope = self.activate.negative_slope
        nn.init.kaiming_normal_(
            self.conv.weight, a=negative_slope, mode="fan_out", nonlinearity=nonlinearity
        )
        if self.conv.bias is not None:
            nn.init.zeros_(self.conv.bias)
        norm = self.norm
        if norm is not None and getattr(norm, "weight", None) is not None:
            nn.init.ones_(norm.weight)
            nn.init.zeros_(norm.bias)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.order:
            if layer == "conv":
                x = self.conv(x)
            elif layer == "norm" and self.with_norm:
                x = self.norm(x)
            elif layer == "act" and self.with_activation:
                x = self.activate(x)
        return x
