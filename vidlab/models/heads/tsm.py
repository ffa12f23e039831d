"""TSM's head (Lin et al., 2019): classify each frame, then average the segments."""

from __future__ import annotations

import torch.nn as nn
from torch import Tensor

from vidlab.models._checks import built
from vidlab.models.heads.base import AvgConsensus, PooledHead


class TSMHead(PooledHead):
    """Per-frame pool, dropout and linear, then the average over ``num_segments``.

    Frames are grouped by the head's own ``num_segments`` (not the ``num_segs`` passed in), so
    an input with ``k * num_segments`` frames per clip gives ``k`` rows per clip, as in
    MMAction2; the recognizer merges them. The average comes after ``fc_cls`` (MMAction2's
    order, kept for bit-exact logits).

    Args:
        num_classes: Number of classes.
        in_channels: Input channels.
        num_segments: Frames per clip the backbone was built for.
        spatial_type: ``'avg'`` pools space; anything else expects pooled features.
        consensus: The segment consensus module; None: ``AvgConsensus(dim=1)``.
        dropout_ratio: Dropout before ``fc_cls``.
        init_std: Std of the ``fc_cls`` weight init.
        is_shift: The backbone shifts features in time.
        temporal_pool: The backbone halves the frames (``ResNetTSM(temporal_pool=True)``).
        **kwargs: ``BaseHead`` arguments (``loss_cls``, ``average_clips``, ...).
    """

    pool_type = nn.AdaptiveAvgPool2d

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        num_segments: int = 8,
        spatial_type: str | None = "avg",
        consensus: nn.Module | None = None,
        dropout_ratio: float = 0.8,
        init_std: float = 0.001,
        is_shift: bool = True,
        temporal_pool: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(num_classes, in_channels, spatial_type, dropout_ratio, init_std, **kwargs)
        self.num_segments = num_segments
        self.is_shift = is_shift
        self.temporal_pool = temporal_pool
        consensus = built(consensus, "TSMHead(consensus=...)")
        self.consensus = AvgConsensus(dim=1) if consensus is None else consensus

    @property
    def _segments(self) -> int:
        return self.num_segments // 2 if self.is_shift and self.temporal_pool else self.num_segments

    def pre_logits(self, x: Tensor, num_segs: int | None = None) -> Tensor:
        x = self._pool(x)
        return x.reshape(-1, self._segments, x.shape[1]).mean(1)  # (N, C)

    def forward(self, x: Tensor, num_segs: int | None = None, **kwargs) -> Tensor:
        logits = self._classify(self._pool(x))  # (N*S, K)
        logits = logits.reshape((-1, self._segments) + logits.shape[1:])  # (N, S, K)
        return self.consensus(logits).squeeze(1)  # (N, K)
