"""TSN's head for audio (MMAction2's ``TSNAudioHead``): pool the spectrogram map, classify.

Each audio view is one sample: there is no segment consensus (views are merged by the
recognizer's ``average_views``, as MMAction2 merges them in ``average_clip``).
"""

from __future__ import annotations

import torch.nn as nn
from torch import Tensor

from vidlab.models.heads.base import BaseHead


class TSNAudioHead(BaseHead):
    """Spatial average pool, dropout, linear: ``(N, C, h, w)`` -> logits ``(N, num_classes)``.

    Args:
        num_classes: Number of classes.
        in_channels: Input channels.
        spatial_type: ``'avg'`` pools the map; anything else expects pooled ``(N, C, 1, 1)``
            or ``(N, C)`` features.
        dropout_ratio: Dropout before ``fc_cls`` (0 disables it).
        init_std: Std of the ``fc_cls`` weight init.
        **kwargs: ``BaseHead`` arguments (``loss_cls``, ``average_clips``, ...).
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        spatial_type: str | None = "avg",
        dropout_ratio: float = 0.4,
        init_std: float = 0.01,
        **kwargs,
    ) -> None:
        super().__init__(
            num_classes, in_channels, dropout_ratio=dropout_ratio, init_std=init_std, **kwargs
        )
        self.spatial_type = spatial_type
        self.avg_pool = nn.AdaptiveAvgPool2d((1, 1)) if spatial_type == "avg" else None

    def pre_logits(self, x: Tensor, num_segs: int | None = None) -> Tensor:
        if self.avg_pool is not None:
            x = self.avg_pool(x)  # (N, C, 1, 1)
        return x.reshape(x.shape[0], -1)  # (N, C)

    def forward(self, x: Tensor, num_segs: int | None = None, **kwargs) -> Tensor:
        return self._classify(self.pre_logits(x))  # (N, K)
