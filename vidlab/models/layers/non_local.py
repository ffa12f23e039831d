"""Non-local blocks (Wang et al., 2018) with MMCV's ``NonLocal3d`` arguments and keys.

``x + conv_out(f(theta(x), phi(x)) @ g(x))`` over all ``T*H*W`` positions. Keys: ``g.conv.*``,
``theta.conv.*``, ``phi.conv.*``, ``conv_out.conv.*`` / ``conv_out.bn.*``; with ``sub_sample``
``g`` and ``phi`` become ``Sequential(ConvModule, MaxPool3d)``: ``g.0.conv.*``, ``phi.0.conv.*``
(in ``'gaussian'`` mode ``phi`` is the max-pool alone and ``theta`` does not exist).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn as nn
from torch import Tensor

from vidlab.models._checks import frozen
from vidlab.models.layers.conv_module import ConvModule

MODES = ("gaussian", "embedded_gaussian", "dot_product", "concatenation")


class NonLocal3d(nn.Module):
    """3D non-local block on ``(N, C, T, H, W)``.

    Args:
        in_channels: Channels of the input (and output).
        sub_sample: Max-pool ``g`` and ``phi`` by 2 in space (not time).
        conv_cfg: Conv layer config of the 1x1x1 projections.
        reduction: ``inter_channels = max(in_channels // reduction, 1)``.
        use_scale: Divide the affinities by ``sqrt(inter_channels)`` (embedded Gaussian only).
        norm_cfg: Norm layer after ``conv_out`` (None: none).
        mode: ``'gaussian'``, ``'embedded_gaussian'``, ``'dot_product'`` or
            ``'concatenation'``.
        std: Std of the normal init of the projections.
        zeros_init: Start ``conv_out`` (its norm, if any) at zero, so the block is the identity.
    """

    def __init__(
        self,
        in_channels: int,
        sub_sample: bool = False,
        conv_cfg: Mapping | None = frozen(type="Conv3d"),
        reduction: int = 2,
        use_scale: bool = True,
        norm_cfg: Mapping | None = None,
        mode: str = "embedded_gaussian",
        std: float = 0.01,
        zeros_init: bool = True,
    ) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"NonLocal3d: mode must be one of {MODES}, got {mode!r}")
        self.in_channels = in_channels
        self.reduction = reduction
        self.use_scale = use_scale
        self.inter_channels = max(in_channels // reduction, 1)
        self.mode = mode
        self.sub_sample = sub_sample
        inter = self.inter_channels

        self.g = ConvModule(in_channels, inter, 1, conv_cfg=conv_cfg, act_cfg=None)
        self.conv_out = ConvModule(
            inter, in_channels, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=None
        )
        if mode != "gaussian":
            self.theta = ConvModule(in_channels, inter, 1, conv_cfg=conv_cfg, act_cfg=None)
            self.phi = ConvModule(in_channels, inter, 1, conv_cfg=conv_cfg, act_cfg=None)
        if mode == "concatenation":
            self.concat_project = ConvModule(
                inter * 2, 1, 1, bias=False, act_cfg=frozen(type="ReLU")
            )
        self._init(std, zeros_init)

        if sub_sample:
            pool = nn.MaxPool3d(kernel_size=(1, 2, 2))
            self.g = nn.Sequential(self.g, pool)
            self.phi = nn.Sequential(self.phi, pool) if mode != "gaussian" else pool

    def _init(self, std: float, zeros_init: bool) -> None:
        convs = [self.g] if self.mode == "gaussian" else [self.g, self.theta, self.phi]
        for m in convs:
            nn.init.normal_(m.conv.weight, 0, std)
            if m.conv.bias is not None:
                nn.init.zeros_(m.conv.bias)
        target = self.conv_out.norm if self.conv_out.norm is not None else self.conv_out.conv
        if zeros_init:
            nn.init.zeros_(target.weight)
        else:
            nn.init.normal_(target.weight, 0, std)
        if getattr(target, "bias", None) is not None:
            nn.init.zeros_(target.bias)

    # --- pairwise functions: (N, P, C') x (N, C', Q) -> (N, P, Q) --------------------------
    def gaussian(self, theta_x: Tensor, phi_x: Tensor) -> Tensor:
        return torch.matmul(theta_x, phi_x).softmax(dim=-1)

    def embedded_gaussian(self, theta_x: Tensor, phi_x: Tensor) -> Tensor:
        weight = torch.matmul(theta_x, phi_x)
        if self.use_scale:
            weight = weight / theta_x.shape[-1] ** 0.5
        return weight.softmax(dim=-1)

    def dot_product(self, theta_x: Tensor, phi_x: Tensor) -> Tensor:
        weight = torch.matmul(theta_x, phi_x)
        return weight / weight.shape[-1]

    def concatenation(self, theta_x: Tensor, phi_x: Tensor) -> Tensor:
        # theta_x (N, C', P, 1), phi_x (N, C', 1, Q) -> every pair, projected to one channel
        p, q = theta_x.shape[2], phi_x.shape[3]
        pairs = torch.cat([theta_x.repeat(1, 1, 1, q), phi_x.repeat(1, 1, p, 1)], dim=1)
        weight = self.concat_project(pairs)  # (N, 1, P, Q)
        weight = weight.reshape(weight.shape[0], p, q)
        return weight / weight.shape[-1]

    def forward(self, x: Tensor) -> Tensor:
        n = x.shape[0]
        g_x = self.g(x).reshape(n, self.inter_channels, -1).permute(0, 2, 1)  # (N, Q, C')
        if self.mode == "gaussian":
            theta_x = x.reshape(n, self.in_channels, -1).permute(0, 2, 1)  # (N, P, C)
            phi_src = self.phi(x) if self.sub_sample else x
            phi_x = phi_src.reshape(n, self.in_channels, -1)  # (N, C, Q)
        elif self.mode == "concatenation":
            theta_x = self.theta(x).reshape(n, self.inter_channels, -1, 1)  # (N, C', P, 1)
            phi_x = self.phi(x).reshape(n, self.inter_channels, 1, -1)  # (N, C', 1, Q)
        else:
            theta_x = self.theta(x).reshape(n, self.inter_channels, -1).permute(0, 2, 1)
            phi_x = self.phi(x).reshape(n, self.inter_channels, -1)  # (N, C', Q)
        weight = getattr(self, self.mode)(theta_x, phi_x)  # (N, P, Q)
        y = torch.matmul(weight, g_x)  # (N, P, C')
        y = y.permute(0, 2, 1).reshape(n, self.inter_channels, *x.shape[2:])  # (N, C', T, H, W)
        return x + self.conv_out(y)
