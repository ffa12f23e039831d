"""TSN's head for audio (MMAction2's ``TSNAudioHead``): pool the spectrogram map, classify.

Each audio view is one sample: there is no segment consensus (views are merged by the
recognizer's ``average_views``, as MMAction2 merges them in ``average_clip``).
"""

from __future__ import annotations

import torch.nn as nn

from vidlab.models.heads.base import PooledHead


class TSNAudioHead(PooledHead):
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

    pool_type = nn.AdaptiveAvgPool2d

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        spatial_type: str | None = "avg",
        dropout_ratio: float = 0.4,
        init_std: float = 0.01,
        **kwargs,
    ) -> None:
        super().__init__(num_classes, in_channels, spatial_type, dropout_ratio, init_std, **kwargs)
