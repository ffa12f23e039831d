"""The transformer head of MMAction2 (TimeSformer, VideoMAE): pooled features to logits."""

from __future__ import annotations

import torch.nn as nn
from torch import Tensor

from vidlab.models.heads.base import BaseHead


class TimeSformerHead(BaseHead):
    """Dropout and a linear layer on the backbone's pooled features ``(N, C)`` -> ``(N, K)``.

    Args:
        num_classes: Number of classes.
        in_channels: Feature width.
        init_std: Std of the truncated-normal ``fc_cls`` weight init.
        dropout_ratio: Dropout before ``fc_cls``.
        **kwargs: ``BaseHead`` arguments (``loss_cls``, ``average_clips``, ...).
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        init_std: float = 0.02,
        dropout_ratio: float = 0.0,
        **kwargs,
    ) -> None:
        super().__init__(
            num_classes, in_channels, dropout_ratio=dropout_ratio, init_std=init_std, **kwargs
        )

    def init_weights(self) -> None:
        """MMEngine's ``trunc_normal_init``: weight ~ N(0, init_std) cut at +-2, bias 0."""
        nn.init.trunc_normal_(self.fc_cls.weight, std=self.init_std)
        nn.init.zeros_(self.fc_cls.bias)

    def pre_logits(self, x: Tensor, num_segs: int | None = None) -> Tensor:
        return x  # (N, C): the backbone pools

    def forward(self, x: Tensor, num_segs: int | None = None, **kwargs) -> Tensor:
        return self._classify(x)  # (N, K)
