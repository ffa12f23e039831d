"""Squeeze-and-excitation (Hu et al., 2018) for 3D feature maps, with MMAction2's keys."""

from __future__ import annotations

import torch.nn as nn
from torch import Tensor

from vidlab.models.layers.rounding import make_divisible


class SEModule(nn.Module):
    """Scale each channel of ``(N, C, T, H, W)`` by a gate computed from its global mean.

    Keys ``fc1.*`` and ``fc2.*`` (1x1x1 convs with bias), as MMAction2's X3D.

    Args:
        channels: Channels of the input.
        reduction: Ratio of the bottleneck width to ``channels`` (rounded to a multiple of 8
            by :func:`~vidlab.models.layers.rounding.make_divisible`).
    """

    def __init__(self, channels: int, reduction: float) -> None:
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool3d(1)
        self.bottleneck = make_divisible(channels * reduction, 8)
        self.fc1 = nn.Conv3d(channels, self.bottleneck, kernel_size=1, padding=0)
        self.relu = nn.ReLU()
        self.fc2 = nn.Conv3d(self.bottleneck, channels, kernel_size=1, padding=0)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        gate = self.avg_pool(x)  # (N, C, 1, 1, 1)
        gate = self.sigmoid(self.fc2(self.relu(self.fc1(gate))))
        return x * gate
