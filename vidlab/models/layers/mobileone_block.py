"""MobileOne's block (Vasu et al., 2023; MMPretrain's ``MobileOneBlock`` and ``SELayer``).

A block trains as a sum of branches (k x k conv-BN branches, a 1x1 conv-BN "scale" branch, a
BN-only identity branch) and deploys as one k x k conv with bias
(:meth:`MobileOneBlock.switch_to_deploy`). The backbones built of it are in
:mod:`vidlab.models.mobileone`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from vidlab.compat.layers import build_activation_layer, build_conv_layer, build_norm_layer
from vidlab.models._checks import frozen
from vidlab.models.layers.conv_module import ConvModule
from vidlab.models.layers.rounding import make_divisible

__all__ = ["MobileOneBlock", "SELayer"]


class SELayer(nn.Module):
    """Squeeze-and-excitation with MMPretrain's keys (``conv1.conv``, ``conv2.conv``).

    Args:
        channels: Input and output channels.
        squeeze_channels: Hidden channels; None: ``make_divisible(channels // ratio, divisor)``.
        ratio: Squeeze ratio.
        divisor: Rounding of the hidden channels.
        bias: Conv bias (``'auto'``: yes, as there is no norm).
        conv_cfg: Conv layer config.
        act_cfg: Activations after the two convs (one dict is used for both).
        return_weight: Return the channel weights instead of the rescaled input.
        init_cfg: Accepted for MMPretrain compatibility.
    """

    def __init__(
        self,
        channels: int,
        squeeze_channels: int | None = None,
        ratio: int = 16,
        divisor: int = 8,
        bias: bool | str = "auto",
        conv_cfg: Mapping | None = None,
        act_cfg: Mapping | Sequence[Mapping] = (frozen(type="ReLU"), frozen(type="Sigmoid")),
        return_weight: bool = False,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        if isinstance(act_cfg, Mapping):
            act_cfg = (act_cfg, act_cfg)
        if squeeze_channels is None:
            squeeze_channels = make_divisible(channels // ratio, divisor)
        self.return_weight = return_weight
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        common = dict(bias=bias, conv_cfg=conv_cfg)
        self.conv1 = ConvModule(channels, squeeze_channels, 1, act_cfg=act_cfg[0], **common)
        self.conv2 = ConvModule(squeeze_channels, channels, 1, act_cfg=act_cfg[1], **common)

    def forward(self, x: Tensor) -> Tensor:
        weight = self.conv2(self.conv1(self.global_avgpool(x)))  # (N, C, 1, 1)
        return weight if self.return_weight else x * weight


def _conv_bn(conv_cfg, norm_cfg, in_ch, out_ch, kernel_size, stride, padding, dilation, groups):
    branch = nn.Sequential()
    branch.add_module(
        "conv",
        build_conv_layer(
            conv_cfg,
            in_ch,
            out_ch,
            kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            groups=groups,
            bias=False,
        ),
    )
    branch.add_module("norm", build_norm_layer(norm_cfg, out_ch)[1])
    return branch


def _fuse(conv_weight: Tensor, norm: nn.Module) -> tuple[Tensor, Tensor]:
    """conv (no bias) then BatchNorm in eval mode -> one conv's weight and bias."""
    std = (norm.running_var + norm.eps).sqrt()
    return (norm.weight / std).reshape(-1, 1, 1, 1) * conv_weight, (
        norm.bias - norm.running_mean * norm.weight / std
    )


class MobileOneBlock(nn.Module):
    """One MobileOne block: ``act(se(sum of branches(x))``, or ``act(se(conv(x)))`` deployed.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: Kernel of the conv branches (a 1x1 scale branch is added when > 1).
        num_convs: Number of k x k conv-BN branches.
        stride: Conv stride.
        padding: Conv padding.
        dilation: Conv dilation.
        groups: Conv groups.
        se_cfg: ``SELayer`` arguments, or None for no squeeze-excitation.
        conv_cfg: Conv layer config.
        norm_cfg: Norm layer config (fusing needs BatchNorm).
        act_cfg: Activation config.
        deploy: Build the fused single-conv form.
        init_cfg: Accepted for MMPretrain compatibility.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        num_convs: int,
        stride: int = 1,
        padding: int = 1,
        dilation: int = 1,
        groups: int = 1,
        se_cfg: Mapping | None = None,
        conv_cfg: Mapping | None = None,
        norm_cfg: Mapping | None = frozen(type="BN"),
        act_cfg: Mapping | None = frozen(type="ReLU"),
        deploy: bool = False,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        self.se = SELayer(out_channels, **se_cfg) if se_cfg is not None else nn.Identity()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.num_conv_branches = num_convs
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        self.se_cfg = se_cfg
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.deploy = deploy
        if deploy:
            self.branch_reparam = self._reparam_conv()
        else:
            self.branch_norm = None
            if out_channels == in_channels and stride == 1:
                self.branch_norm = build_norm_layer(norm_cfg, in_channels)[1]
            self.branch_scale = None
            if kernel_size > 1:
                self.branch_scale = self._branch(1, padding=0, dilation=1)
            self.branch_conv_list = nn.ModuleList(
                self._branch(kernel_size, padding, dilation) for _ in range(num_convs)
            )
        self.act = build_activation_layer(act_cfg)

    def _branch(self, kernel_size: int, padding: int, dilation: int) -> nn.Sequential:
        return _conv_bn(
            self.conv_cfg,
            self.norm_cfg,
            self.in_channels,
            self.out_channels,
            kernel_size,
            self.stride,
            padding,
            dilation,
            self.groups,
        )

    def _reparam_conv(self) -> nn.Module:
        return build_conv_layer(
            self.conv_cfg,
            self.in_channels,
            self.out_channels,
            self.kernel_size,
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            groups=self.groups,
            bias=True,
        )

    def _branches(self, x: Tensor) -> Tensor:
        if self.deploy:
            return self.branch_reparam(x)
        out = 0
        if self.branch_norm is not None:
            out = self.branch_norm(x)
        if self.branch_scale is not None:
            out = out + self.branch_scale(x)
        for branch in self.branch_conv_list:
            out = out + branch(x)
        return out

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.se(self._branches(x)))

    @torch.no_grad()
    def reparameterize(self) -> tuple[Tensor, Tensor]:
        """The weight and bias of the one conv equal (in eval mode) to the sum of branches.

        Each conv-BN branch folds its BatchNorm into the conv; the 1x1 scale branch is padded
        to k x k; the BN-only branch is an identity kernel (1 at the centre of each channel's
        own input slice) folded with its BN.
        """
        weight = torch.zeros_like(self.branch_conv_list[0].conv.weight)
        bias = torch.zeros(self.out_channels, dtype=weight.dtype, device=weight.device)
        for branch in self.branch_conv_list:
            w, b = _fuse(branch.conv.weight, branch.norm)
            weight, bias = weight + w, bias + b
        if self.branch_scale is not None:
            w, b = _fuse(self.branch_scale.conv.weight, self.branch_scale.norm)
            pad = self.kernel_size // 2
            weight, bias = weight + F.pad(w, [pad, pad, pad, pad]), bias + b
        if self.branch_norm is not None:
            per_group = self.in_channels // self.groups
            identity = torch.zeros_like(weight)
            centre = self.kernel_size // 2
            for i in range(self.in_channels):
                identity[i, i % per_group, centre, centre] = 1
            w, b = _fuse(identity, self.branch_norm)
            weight, bias = weight + w, bias + b
        return weight, bias

    def switch_to_deploy(self) -> None:
        """Replace the branches by the single fused conv ``branch_reparam`` (in place)."""
        if self.deploy:
            return
        if not isinstance(self.branch_conv_list[0].norm, nn.BatchNorm2d):
            raise TypeError("MobileOneBlock.switch_to_deploy needs BatchNorm (norm_cfg type 'BN')")
        weight, bias = self.reparameterize()
        self.branch_reparam = self._reparam_conv().to(weight)
        self.branch_reparam.weight.data.copy_(weight)
        self.branch_reparam.bias.data.copy_(bias)
        del self.branch_conv_list, self.branch_scale, self.branch_norm
        self.deploy = True
