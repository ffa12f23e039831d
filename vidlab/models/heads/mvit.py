"""MViTv2's head (Li et al., 2022): classify the class token (or the mean of the patch tokens)."""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn as nn
from torch import Tensor

from vidlab.models.heads.base import BaseHead


class MViTHead(BaseHead):
    """Dropout and ``fc_cls`` on the last scale of ``MViT``: ``feats[-1]`` -> ``(N, K)``.

    The backbone gives one entry per output scale: ``(patch_tokens, cls_token)`` when it outputs
    the class token, else the patch map ``(N, C, T, H, W)`` alone.

    Args:
        num_classes: Number of classes.
        in_channels: Channels of the class token.
        loss_cls: Loss module; None: cross entropy.
        dropout_ratio: Dropout before ``fc_cls``.
        init_std: Std of the truncated-normal ``fc_cls.weight`` init.
        init_scale: Factor on the initial ``fc_cls`` weight and bias (the MaskFeat fine-tuning
            config starts the classifier at 0.001 of its usual size).
        with_cls_token: Classify the class token; False: the mean of the patch tokens.
        **kwargs: ``BaseHead`` arguments (``label_smooth_eps``, ``average_clips``, ...).
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        loss_cls: nn.Module | None = None,
        dropout_ratio: float = 0.5,
        init_std: float = 0.02,
        init_scale: float = 1.0,
        with_cls_token: bool = True,
        **kwargs,
    ) -> None:
        self._init_scale = init_scale  # read by init_weights, which BaseHead calls
        super().__init__(
            num_classes,
            in_channels,
            loss_cls=loss_cls,
            dropout_ratio=dropout_ratio,
            init_std=init_std,
            **kwargs,
        )
        self.init_scale = init_scale
        self.with_cls_token = with_cls_token

    def init_weights(self) -> None:
        """Truncated-normal weight (std ``init_std``), bias 0.02, both times ``init_scale``."""
        nn.init.trunc_normal_(self.fc_cls.weight, std=self.init_std)
        nn.init.constant_(self.fc_cls.bias, 0.02)
        self.fc_cls.weight.data.mul_(self._init_scale)
        self.fc_cls.bias.data.mul_(self._init_scale)

    def pre_logits(self, x: Sequence, num_segs: int | None = None) -> Tensor:
        last = x[-1]
        if self.with_cls_token:
            return last[1]  # (N, C): the class token
        return last.mean(dim=(2, 3, 4))  # (N, C, T, H, W) -> (N, C)

    def forward(self, x: Sequence, num_segs: int | None = None, **kwargs) -> Tensor:
        return self._classify(self.pre_logits(x))  # (N, K)
