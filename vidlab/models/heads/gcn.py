"""The GCN head (MMAction2's ``GCNHead``): pool joints and frames, average persons, classify."""

from __future__ import annotations

import torch.nn as nn
from torch import Tensor

from vidlab.models.heads.base import BaseHead


class GCNHead(BaseHead):
    """``(N, M, C, T, V)`` per-person maps -> ``(N, K)`` logits.

    The classifier is ``fc`` (MMAction2's key ``cls_head.fc.*``), not ``fc_cls``; views are
    averaged as probabilities by default (``average_clips='prob'``), as MMAction2's GCN configs
    test 10 clips per sample.

    Args:
        num_classes: Number of classes.
        in_channels: Channels of the backbone's maps.
        loss_cls: Loss module; None: cross-entropy.
        dropout: Dropout before ``fc``.
        average_clips: ``'prob'``, ``'score'`` or None.
        init_cfg: Accepted for MMAction2 config compatibility.
        **kwargs: ``BaseHead`` arguments (``label_smooth_eps``, ``topk``, ...).
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        loss_cls: nn.Module | None = None,
        dropout: float = 0.0,
        average_clips: str | None = "prob",
        init_cfg: dict | list | None = None,
        **kwargs,
    ) -> None:
        super().__init__(
            num_classes,
            in_channels,
            loss_cls=loss_cls,
            average_clips=average_clips,
            dropout_ratio=dropout,
            init_cfg=init_cfg,
            **kwargs,
        )
        self.pool = nn.AdaptiveAvgPool2d(1)

    # MMAction2 names the classifier ``fc``: BaseHead's ``fc_cls`` is kept under that name
    def __setattr__(self, name: str, value) -> None:
        super().__setattr__("fc" if name == "fc_cls" else name, value)

    def __getattr__(self, name: str):
        return super().__getattr__("fc" if name == "fc_cls" else name)

    def pre_logits(self, x: Tensor, num_segs: int | None = None) -> Tensor:
        n, m, c, t, v = x.shape  # (N, M, C, T, V)
        x = self.pool(x.view(n * m, c, t, v))  # (N*M, C, 1, 1)
        return x.view(n, m, c).mean(dim=1)  # (N, C): persons averaged

    def forward(self, x: Tensor, num_segs: int | None = None, **kwargs) -> Tensor:
        return self._classify(self.pre_logits(x))  # (N, K)
