"""Classification heads with MMAction2's arguments and keys (``cls_head.fc_cls.*``)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from vidlab.models._build import build_module


class AvgConsensus(nn.Module):
    """Mean over ``dim`` (the segments), keeping the dimension."""

    def __init__(self, dim: int = 1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return x.mean(dim=self.dim, keepdim=True)


def _build_consensus(consensus) -> nn.Module:
    consensus = build_module(consensus, "consensus")
    if not isinstance(consensus, nn.Module):
        raise TypeError(
            f"consensus must be AvgConsensus or dict(type='AvgConsensus'), got {consensus!r}"
        )
    return consensus


class BaseHead(nn.Module):
    """What every head shares: the loss, label smoothing and how views are averaged.

    Args:
        num_classes: Number of classes.
        in_channels: Channels of the input features.
        loss_cls: Loss module or config; default ``CrossEntropyLoss()``.
        multi_class: Multi-label task (use ``BCELossWithLogits``).
        label_smooth_eps: Label smoothing epsilon: targets become
            ``(1 - eps) * one_hot + eps / num_classes``.
        topk: Top-k accuracies to report (kept for config compatibility).
        average_clips: How ``Recognizer.average_views`` merges views: ``'prob'`` (mean of softmax),
            ``'score'`` (mean of logits) or None (as ``'score'``).
        init_cfg: Accepted for MMAction2 config compatibility.
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        loss_cls=dict(type="CrossEntropyLoss", loss_weight=1.0),  # noqa: B006
        multi_class: bool = False,
        label_smooth_eps: float = 0.0,
        topk: int | tuple[int, ...] = (1, 5),
        average_clips: str | None = None,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        if average_clips not in ("prob", "score", None):
            raise ValueError(f"average_clips={average_clips!r}; use 'prob', 'score' or None")
        topk = (topk,) if isinstance(topk, int) else tuple(topk)
        if any(k <= 0 for k in topk):
            raise ValueError(f"topk values must be positive, got {topk}")
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.loss_cls = build_module(loss_cls, "cls_head.loss_cls")
        self.multi_class = multi_class
        self.label_smooth_eps = label_smooth_eps
        self.topk = topk
        self.average_clips = average_clips
        self.init_cfg = init_cfg

    def loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Loss of logits ``(B, K)`` against hard ``(B,)`` or soft/multi-hot ``(B, K)`` labels."""
        if labels.dim() == 0:
            labels = labels.unsqueeze(0)
        elif labels.dim() == 1 and labels.shape[0] == self.num_classes and logits.shape[0] == 1:
            labels = labels.unsqueeze(0)  # one soft label for a batch of one
        if self.label_smooth_eps:
            if labels.shape != logits.shape:
                labels = F.one_hot(labels.long(), self.num_classes)
            labels = (1 - self.label_smooth_eps) * labels + self.label_smooth_eps / self.num_classes
        return self.loss_cls(logits, labels)

    def init_weights(self) -> None:
        """Normal(0, init_std) for ``fc_cls.weight``, zeros for its bias."""
        nn.init.normal_(self.fc_cls.weight, 0, self.init_std)
        nn.init.zeros_(self.fc_cls.bias)


class TSNHead(BaseHead):
    """TSN head: spatial average pool, segment consensus, dropout, linear.

    Input ``(N*num_segs, C, H, W)`` -> logits ``(N, num_classes)``.

    Args:
        num_classes: Number of classes.
        in_channels: Input channels.
        loss_cls: Loss module or config.
        spatial_type: ``'avg'`` pools space; anything else expects pooled features.
        consensus: ``AvgConsensus`` or its config.
        dropout_ratio: Dropout before ``fc_cls`` (0 disables it).
        init_std: Std of the ``fc_cls`` weight init.
        **kwargs: ``BaseHead`` arguments.
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        loss_cls=dict(type="CrossEntropyLoss"),  # noqa: B006
        spatial_type: str = "avg",
        consensus=dict(type="AvgConsensus", dim=1),  # noqa: B006
        dropout_ratio: float = 0.4,
        init_std: float = 0.01,
        **kwargs,
    ) -> None:
        super().__init__(num_classes, in_channels, loss_cls=loss_cls, **kwargs)
        self.spatial_type = spatial_type
        self.dropout_ratio = dropout_ratio
        self.init_std = init_std
        self.consensus = _build_consensus(consensus)
        self.avg_pool = nn.AdaptiveAvgPool2d((1, 1)) if spatial_type == "avg" else None
        self.dropout = nn.Dropout(p=dropout_ratio) if dropout_ratio != 0 else None
        self.fc_cls = nn.Linear(in_channels, num_classes)
        self.init_weights()

    def forward(self, x: Tensor, num_segs: int, **kwargs) -> Tensor:
        if self.avg_pool is not None:
            x = self.avg_pool(x)  # (N*S, C, 1, 1)
        x = x.reshape((-1, num_segs) + x.shape[1:])  # (N, S, C, 1, 1)
        x = self.consensus(x).squeeze(1)  # (N, C, 1, 1)
        if self.dropout is not None:
            x = self.dropout(x)
        return self.fc_cls(x.flatten(1))  # (N, K)


class TSMHead(BaseHead):
    """TSM head: per-frame pool, dropout and linear, then the average over ``num_segments``.

    Frames are grouped by the head's own ``num_segments`` (not the ``num_segs`` passed in), so
    an input with ``k * num_segments`` frames per clip gives ``k`` rows per clip, as in
    MMAction2; the recognizer merges them.

    Args:
        num_classes: Number of classes.
        in_channels: Input channels.
        num_segments: Frames per clip the backbone was built for.
        loss_cls: Loss module or config.
        spatial_type: ``'avg'`` pools space; anything else expects pooled features.
        consensus: ``AvgConsensus`` or its config.
        dropout_ratio: Dropout before ``fc_cls``.
        init_std: Std of the ``fc_cls`` weight init.
        is_shift: The backbone shifts features in time.
        temporal_pool: The backbone halves the frames (``ResNetTSM(temporal_pool=True)``).
        **kwargs: ``BaseHead`` arguments.
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        num_segments: int = 8,
        loss_cls=dict(type="CrossEntropyLoss"),  # noqa: B006
        spatial_type: str = "avg",
        consensus=dict(type="AvgConsensus", dim=1),  # noqa: B006
        dropout_ratio: float = 0.8,
        init_std: float = 0.001,
        is_shift: bool = True,
        temporal_pool: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(num_classes, in_channels, loss_cls=loss_cls, **kwargs)
        self.num_segments = num_segments
        self.spatial_type = spatial_type
        self.dropout_ratio = dropout_ratio
        self.init_std = init_std
        self.is_shift = is_shift
        self.temporal_pool = temporal_pool
        self.consensus = _build_consensus(consensus)
        self.dropout = nn.Dropout(p=dropout_ratio) if dropout_ratio != 0 else None
        self.fc_cls = nn.Linear(in_channels, num_classes)
        self.avg_pool = nn.AdaptiveAvgPool2d(1) if spatial_type == "avg" else None
        self.init_weights()

    def forward(self, x: Tensor, num_segs: int | None = None, **kwargs) -> Tensor:
        if self.avg_pool is not None:
            x = self.avg_pool(x)  # (N*S, C, 1, 1)
        x = torch.flatten(x, 1)  # (N*S, C)
        if self.dropout is not None:
            x = self.dropout(x)
        logits = self.fc_cls(x)  # (N*S, K)
        segments = (
            self.num_segments // 2 if self.is_shift and self.temporal_pool else self.num_segments
        )
        logits = logits.reshape((-1, segments) + logits.shape[1:])  # (N, S, K)
        return self.consensus(logits).squeeze(1)  # (N, K)


class I3DHead(BaseHead):
    """3D head: spatio-temporal average pool, dropout, linear; ``(N, C, T, H, W)`` -> ``(N, K)``.

    Args:
        num_classes: Number of classes.
        in_channels: Input channels.
        loss_cls: Loss module or config.
        spatial_type: ``'avg'`` pools; anything else expects pooled features.
        dropout_ratio: Dropout before ``fc_cls``.
        init_std: Std of the ``fc_cls`` weight init.
        **kwargs: ``BaseHead`` arguments.
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        loss_cls=dict(type="CrossEntropyLoss"),  # noqa: B006
        spatial_type: str = "avg",
        dropout_ratio: float = 0.5,
        init_std: float = 0.01,
        **kwargs,
    ) -> None:
        super().__init__(num_classes, in_channels, loss_cls=loss_cls, **kwargs)
        self.spatial_type = spatial_type
        self.dropout_ratio = dropout_ratio
        self.init_std = init_std
        self.dropout = nn.Dropout(p=dropout_ratio) if dropout_ratio != 0 else None
        self.fc_cls = nn.Linear(in_channels, num_classes)
        self.avg_pool = nn.AdaptiveAvgPool3d((1, 1, 1)) if spatial_type == "avg" else None
        self.init_weights()

    def forward(self, x: Tensor, **kwargs) -> Tensor:
        if self.avg_pool is not None:
            x = self.avg_pool(x)  # (N, C, 1, 1, 1)
        if self.dropout is not None:
            x = self.dropout(x)
        return self.fc_cls(x.flatten(1))  # (N, K)
