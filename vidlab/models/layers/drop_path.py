"""Stochastic depth (Huang et al., 2016) as MMCV's ``DropPath``."""

from __future__ import annotations

import torch
import torch.nn as nn
from torch import Tensor


class DropPath(nn.Module):
    """Stochastic depth: zero a sample's residual branch with probability ``drop_prob`` while
    training, scaling the kept ones by ``1 / (1 - drop_prob)`` (MMCV's ``DropPath``)."""

    def __init__(self, drop_prob: float = 0.1) -> None:
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: Tensor) -> Tensor:
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep = 1 - self.drop_prob
        shape = (x.shape[0],) + (1,) * (x.dim() - 1)
        mask = (keep + torch.rand(shape, dtype=x.dtype, device=x.device)).floor_()
        return x.div(keep) * mask
