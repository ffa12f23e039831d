"""TSN's head (Wang et al., 2016): pool each frame, average the segments, classify."""

from __future__ import annotations

import torch.nn as nn
from torch import Tensor

from vidlab.models._checks import built
from vidlab.models.heads.base import AvgConsensus, BaseHead


class TSNHead(BaseHead):
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
        super().__init__(
            num_classes, in_channels, dropout_ratio=dropout_ratio, init_std=init_std, **kwargs
        )
        self.spatial_type = spatial_type
        consensus = built(consensus, "TSNHead(consensus=...)")
        self.consensus = AvgConsensus(dim=1) if consensus is None else consensus
        self.avg_pool = nn.AdaptiveAvgPool2d((1, 1)) if spatial_type == "avg" else None

    def pre_logits(self, x: Tensor, num_segs: int | None = None) -> Tensor:
        if self.avg_pool is not None:
            x = self.avg_pool(x)  # (N*S, C, 1, 1)
        x = x.reshape((-1, num_segs) + x.shape[1:])  # (N, S, C, 1, 1)
        return self.consensus(x).squeeze(1).flatten(1)  # (N, C)

    def forward(self, x: Tensor, num_segs: int | None = None, **kwargs) -> Tensor:
        return self._classify(self.pre_logits(x, num_segs))  # (N, K)
