"""SlowFast's head: pool each pathway's features, concatenate them (fast first), classify."""

from __future__ import annotations

import torch
from torch import Tensor

from vidlab.models.heads.base import PooledHead


class SlowFastHead(PooledHead):
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
        super().__init__(num_classes, in_channels, spatial_type, dropout_ratio, init_std, **kwargs)

    def pre_logits(self, x: tuple[Tensor, Tensor], num_segs: int | None = None) -> Tensor:
        x_slow, x_fast = x
        return torch.cat((self._pool(x_fast), self._pool(x_slow)), dim=1)  # (N, Cf + Cs)
