"""TSN's head (Wang et al., 2016): pool each frame, average the segments, classify."""

from __future__ import annotations

import torch.nn as nn
from torch import Tensor

from vidlab.models._checks import built
from vidlab.models.heads.base import AvgConsensus, PooledHead


class TSNHead(PooledHead):
    """Spatial average pool, segment consensus, dropout, linear.

    Input ``(N*num_segs, C, H, W)`` -> logits ``(N, num_classes)``.

    Args:
        num_classes: Number of classes.
        in_channels: Input channels.
        spatial_type: ``'avg'`` pools space; anything else expects pooled features.
        consensus: The segment consensus module; None: ``AvgConsensus(dim=1)``.
        dropout_ratio: Dropout before ``fc_cls`` (0 disables it).
        init_std: Std of the ``fc_cls`` weight init.
        **kwargs: ``BaseHead`` arguments (``loss_cls``, ``average_clips``, ...).
    """

    pool_type = nn.AdaptiveAvgPool2d

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        spatial_type: str | None = "avg",
        consensus: nn.Module | None = None,
        dropout_ratio: float = 0.4,
        init_std: float = 0.01,
        **kwargs,
    ) -> None:
        super().__init__(num_classes, in_channels, spatial_type, dropout_ratio, init_std, **kwargs)
        consensus = built(consensus, "TSNHead(consensus=...)")
        self.consensus = AvgConsensus(dim=1) if consensus is None else consensus

    def pre_logits(self, x: Tensor, num_segs: int | None = None) -> Tensor:
        x = self._pool(x)  # (N*S, C)
        x = x.reshape(-1, num_segs, x.shape[1])  # (N, S, C)
        return self.consensus(x).squeeze(1)  # (N, C)
