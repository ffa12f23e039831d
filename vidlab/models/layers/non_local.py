"""Non-local blocks (Wang et al., 2018) with MMCV's ``NonLocal1d/2d/3d`` state-dict layout.

``y = x + conv_out(f(theta(x), phi(x)) @ g(x))`` over all positions. Keys: ``g.conv.*``,
``theta.conv.*``, ``phi.conv.*`` (1x1 convs with bias), ``conv_out.conv.*`` and, with a
``norm_cfg``, ``conv_out.bn.*``. With ``sub_sample`` the key and value maps are max-pooled
(spatially) after their conv: ``g`` and ``phi`` become ``Sequential(conv, pool)`` (keys
``g.0.conv.*``), as MMCV's. Modes: ``'embedded_gaussian'`` (softmax of scaled dot products),
``'dot_product'`` (dot products / N), ``'gaussian'`` (softmax over raw features, no theta/phi
convs) and ``'concatenation'``. ResNet3d and ResNetTSM use ``NonLocal3d``.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn as nn
from torch import Tensor

from vidlab.models._checks import frozen
from vidlab.models.layers.conv_module import ConvModule

MODES = ("gaussian", "embedded_gaussian", "dot_product", "concatenation")
_CONV1D, _CONV2D, _CONV3D = frozen(type="Conv1d"), frozen(type="Conv2d"), frozen(type="Conv3d")


class _NonLocalNd(nn.Module):
    """Non-local block over a 1D, 2D or 3D map (subclasses fix the conv and pool types).

    Args:
        in_channels: Channels of the input map.
        reduction: ``inter_channels = in_channels // reduction``.
        use_scale: Divide the ``'embedded_gaussian'`` affinities by ``sqrt(inter_channels)``.
        conv_cfg: Conv layer spec of ``g``, ``theta``, ``phi`` and ``conv_out``.
        norm_cfg: Norm after ``conv_out`` (None: none).
        mode: One of ``'gaussian'``, ``'embedded_gaussian'``, ``'dot_product'``,
            ``'concatenation'``.
        sub_sample: Max-pool the ``g`` and ``phi`` maps spatially by 2.
        std: Std of the normal init of the inner convs.
        zeros_init: Start ``conv_out`` (its norm, if any) at zero, so the block is the identity.
    """

    _pool: type[nn.Module] = nn.MaxPool3d
    _pool_kernel: tuple[int, ...] = (1, 2, 2)

    def __init__(
        self,
        in_channels: int,
        reduction: int = 2,
        use_scale: bool = True,
        conv_cfg: Mapping | None = None,
        norm_cfg: Mapping | None = None,
        mode: str = "embedded_gaussian",
        sub_sample: bool = False,
        std: float = 0.01,
        zeros_init: bool = True,
    ) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"non-local mode must be one of {MODES}, got {mode!r}")
        self.in_channels = in_channels
        self.reduction = reduction
        self.use_scale = use_scale
        self.inter_channels = max(in_channels // reduction, 1)
        self.mode = mode
        self.sub_sample = sub_sample
        inner = self.inter_channels

        def conv(cin: int, cout: int, norm: Mapping | None = None) -> ConvModule:
            return ConvModule(cin, cout, 1, conv_cfg=conv_cfg, norm_cfg=norm, act_cfg=None)

        self.g = conv(in_channels, inner)
        self.conv_out = conv(inner, in_channels, norm_cfg)
        if mode != "gaussian":
            self.theta = conv(in_channels, inner)
            self.phi = conv(in_channels, inner)
        if mode == "concatenation":
            self.concat_project = ConvModule(
                inner * 2, 1, 1, bias=False, act_cfg=frozen(type="ReLU")
            )
        self._init(std, zeros_init)
        if sub_sample:
            pool = self._pool(kernel_size=self._pool_kernel)
            self.g = nn.Sequential(self.g, pool)
            self.phi = nn.Sequential(self.phi, pool) if mode != "gaussian" else pool

    def _init(self, std: float, zeros_init: bool) -> None:
        convs = [self.g] if self.mode == "gaussian" else [self.g, self.theta, self.phi]
        for m in convs:
            nn.init.normal_(m.conv.weight, 0, std)
            nn.init.zeros_(m.conv.bias)
        last = self.conv_out.norm if self.conv_out.norm is not None else self.conv_out.conv
        if zeros_init:
            nn.init.zeros_(last.weight)
        else:
            nn.init.normal_(last.weight, 0, std)
        if last.bias is not None:
            nn.init.zeros_(last.bias)

    def _affinity(self, theta_x: Tensor, phi_x: Tensor) -> Tensor:
        """Pairwise weights ``(N, P, P')`` between positions ``P`` and pooled positions ``P'``."""
        if self.mode == "concatenation":
            h, w = theta_x.shape[2], phi_x.shape[3]
            pair = torch.cat([theta_x.repeat(1, 1, 1, w), phi_x.repeat(1, 1, h, 1)], dim=1)
            weight = self.concat_project(pair)  # (N, 1, P, P')
            weight = weight.reshape(weight.shape[0], weight.shape[2], weight.shape[3])
            return weight / weight.shape[-1]
        weight = torch.matmul(theta_x, phi_x)  # (N, P, P')
        if self.mode == "dot_product":
            return weight / weight.shape[-1]
        if self.mode == "embedded_gaussian" and self.use_scale:
            weight = weight / theta_x.shape[-1] ** 0.5
        return weight.softmax(dim=-1)

    def forward(self, x: Tensor) -> Tensor:
        n = x.shape[0]
        g_x = self.g(x).reshape(n, self.inter_channels, -1).permute(0, 2, 1)  # (N, P', C')
        if self.mode == "gaussian":
            theta_x = x.reshape(n, self.in_channels, -1).permute(0, 2, 1)  # (N, P, C)
            phi_x = (self.phi(x) if self.sub_sample else x).reshape(n, self.in_channels, -1)
        elif self.mode == "concatenation":
            theta_x = self.theta(x).reshape(n, self.inter_channels, -1, 1)  # (N, C', P, 1)
            phi_x = self.phi(x).reshape(n, self.inter_channels, 1, -1)  # (N, C', 1, P')
        else:
            theta_x = self.theta(x).reshape(n, self.inter_channels, -1).permute(0, 2, 1)
            phi_x = self.phi(x).reshape(n, self.inter_channels, -1)  # (N, C', P')
        y = torch.matmul(self._affinity(theta_x, phi_x), g_x)  # (N, P, C')
        y = y.permute(0, 2, 1).reshape(n, self.inter_channels, *x.shape[2:])  # (N, C', ...)
        return x + self.conv_out(y)


class NonLocal1d(_NonLocalNd):
    """Non-local block over ``(N, C, L)``; see :class:`_NonLocalNd` for the arguments."""

    _pool = nn.MaxPool1d
    _pool_kernel = (2,)

    def __init__(
        self, in_channels: int, sub_sample: bool = False, conv_cfg=_CONV1D, **kwargs
    ) -> None:
        super().__init__(in_channels, conv_cfg=conv_cfg, sub_sample=sub_sample, **kwargs)


class NonLocal2d(_NonLocalNd):
    """Non-local block over ``(N, C, H, W)``; see :class:`_NonLocalNd` for the arguments."""

    _pool = nn.MaxPool2d
    _pool_kernel = (2, 2)

    def __init__(
        self, in_channels: int, sub_sample: bool = False, conv_cfg=_CONV2D, **kwargs
    ) -> None:
        super().__init__(in_channels, conv_cfg=conv_cfg, sub_sample=sub_sample, **kwargs)


class NonLocal3d(_NonLocalNd):
    """Non-local block over ``(N, C, T, H, W)``; ``sub_sample`` pools space only."""

    _pool = nn.MaxPool3d
    _pool_kernel = (1, 2, 2)

    def __init__(
        self, in_channels: int, sub_sample: bool = False, conv_cfg=_CONV3D, **kwargs
    ) -> None:
        super().__init__(in_channels, conv_cfg=conv_cfg, sub_sample=sub_sample, **kwargs)
