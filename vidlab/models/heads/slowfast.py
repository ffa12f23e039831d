"""SlowFast's head: pool each pathway's features, concatenate them (fast first), classify."""

from __future__ import annotations

import torch
import torch.nn as nn
from torch import Tensor

from vidlab.models.heads.base import BaseHead


class SlowFastHead(BaseHead):
    """``(slow (N, Cs, Ts, H, W), fast (N, Cf, Tf, H, W))`` -> ``(N, K)``.

    Each map is averaged over time and space; the features are ``[fast, slow]`` (MMAction2's
    order, which its ``fc_cls`` weights follow), then dropout and ``fc_cls``.

    Args:
        num_classes: Number of classes.
        in_channels: ``Cs + Cf`` (2304 for ResNet-50 pathways).
        spatial_type: ``'avg'`` pools; anything else expects pooled features.
        dropout_ratio: Dropout before ``fc_cls`` (MMAction2's default 0.8; the configs use 0.5).
        init_std: Std of the ``fc_cls`` weight init.
        **kwargs: ``BaseHead`` arguments (``loss_cls``, ``average_clips``, ...).
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        spatial_type: str | None = "avg",
        dropout_ratio: float = 0.8,
        init_std: float = 0.01,
        **kwargs,
    ) -> None:
        super().__init__(
            num_classes, in_channels, dropout_ratio=dropout_ratio, init_std=init_std, **kwargs
        )
        self.spatial_type = spatial_type
        self.avg_pool = nn.AdaptiveAvgPool3d((1, 1, 1)) if spatial_type == "avg" else None

    def pre_logits(self, x: tuple[Tensor, Tensor], num_segs: int | None = None) -> Tensor:
        x_slow, x_fast = x
        if self.avg_pool is not None:
            x_slow = self.avg_pool(x_slow)  # (N, Cs, 1, 1, 1)
            x_fast = self.avg_pool(x_fast)  # (N, Cf, 1, 1, 1)
        return torch.cat((x_fast, x_slow), dim=1).flatten(1)  # (N, Cf + Cs)

    def forward(self, x: tuple[Tensor, Tensor], num_segs: int | None = None, **kwargs) -> Tensor:
        return self._classify(self.pre_logits(x))  # (N, K)
