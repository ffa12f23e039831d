"""(2+1)D convolution (Tran et al., 2018) with MMAction2's ``Conv2plus1d`` layout.

A t x h x w conv factorized into a 1 x h x w spatial conv (``conv_s``), a norm (``bn_s``),
ReLU and a t x 1 x 1 temporal conv (``conv_t``). The middle width is chosen so that the
parameter count matches the full 3D conv's (for t = 3):
``mid = floor(3 * in * out * h * w / (in * h * w + 3 * out))``. ``conv_cfg=dict(type=
'Conv2plus1d')`` selects it (``vidlab.compat.layers``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch.nn as nn
from torch import Tensor

from vidlab.compat.layers import build_norm_layer
from vidlab.models._checks import frozen


def _triple(value) -> tuple[int, int, int]:
    return tuple(value) if isinstance(value, Sequence) else (value,) * 3


class Conv2plus1d(nn.Module):
    """Spatial conv, norm, ReLU, temporal conv.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: ``(t, h, w)`` or an int.
        stride: ``(t, h, w)`` or an int; the spatial part strides ``conv_s``, the temporal part
            ``conv_t``.
        padding: ``(t, h, w)`` or an int, split the same way.
        dilation: Kept as an attribute only; MMAction2's layer does not dilate either.
        groups: Kept as an attribute only (as MMAction2's).
        bias: Bias of both convs.
        norm_cfg: Norm between the two convs (BatchNorm3d by default, whatever the enclosing
            block's norm is, as MMAction2's).
        padding_mode: Must be ``'zeros'`` (given by ``ConvModule``).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool | str = True,
        norm_cfg: Mapping = frozen(type="BN3d"),
        padding_mode: str = "zeros",
    ) -> None:
        super().__init__()
        if padding_mode != "zeros":
            raise ValueError(f"Conv2plus1d pads with zeros only, got padding_mode={padding_mode!r}")
        kernel_size, stride, padding = _triple(kernel_size), _triple(stride), _triple(padding)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.dilation, self.groups, self.bias, self.norm_cfg = dilation, groups, bias, norm_cfg
        kh, kw = kernel_size[1], kernel_size[2]
        mid = 3 * (in_channels * out_channels * kh * kw)
        mid /= in_channels * kh * kw + 3 * out_channels
        mid = int(mid)
        self.conv_s = nn.Conv3d(
            in_channels,
            mid,
            kernel_size=(1, kh, kw),
            stride=(1, stride[1], stride[2]),
            padding=(0, padding[1], padding[2]),
            bias=bias,
        )
        _, self.bn_s = build_norm_layer(norm_cfg, mid)
        self.relu = nn.ReLU(inplace=True)
        self.conv_t = nn.Conv3d(
            mid,
            out_channels,
            kernel_size=(kernel_size[0], 1, 1),
            stride=(stride[0], 1, 1),
            padding=(padding[0], 0, 0),
            bias=bias,
        )
        self.init_weights()

    def init_weights(self) -> None:
        """Kaiming-normal convs (fan_out), unit-weight zero-bias norm, as MMAction2's."""
        for conv in (self.conv_s, self.conv_t):
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)
        if getattr(self.bn_s, "weight", None) is not None:
            nn.init.ones_(self.bn_s.weight)
            nn.init.zeros_(self.bn_s.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn_s(self.conv_s(x)))  # (N, mid, T, H', W')
        return self.conv_t(x)  # (N, out, T', H', W')
