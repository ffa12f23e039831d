"""Conv + norm + activation block with MMCV's ``ConvModule`` state-dict layout.

The layer specs are MMCV's (``vidlab.compat.layers`` translates them). A block holds ``.conv``,
then the norm layer under its MMCV abbreviation (``.bn`` for every
BatchNorm flavour, ``.gn``, ``.ln``, ``.in``) and ``.activate``, so MMAction2 checkpoints load
without key maps (``backbone.conv1.conv.weight``, ``backbone.conv1.bn.running_mean``).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch.nn as nn
from torch import Tensor

from vidlab.compat.layers import build_activation_layer, build_conv_layer, build_norm_layer
from vidlab.models._checks import frozen


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
        conv_cfg: Mapping | None = None,
        norm_cfg: Mapping | None = None,
        act_cfg: Mapping | None = frozen(type="ReLU"),
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
            self.activate = build_activation_layer(act_cfg, inplace=inplace)

        self.init_weights()

    @property
    def norm(self) -> nn.Module | None:
        return getattr(self, self.norm_name) if self.norm_name else None

    def init_weights(self) -> None:
        """Kaiming-normal (fan_out) conv, unit-weight zero-bias norm, as MMCV does."""
        if hasattr(self.conv, "init_weights"):  # a composite conv (Conv2plus1d) inits itself
            self.conv.init_weights()
            self._init_norm()
            return
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
        self._init_norm()

    def _init_norm(self) -> None:
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
