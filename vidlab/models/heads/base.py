"""What every classification head shares: its classifier, loss and view averaging.

A head maps backbone features to logits. ``pre_logits`` gives the pooled features the
classifier sees (``(N, in_channels)``), ``forward`` the logits, ``reset_classifier`` swaps
``fc_cls`` for one with another number of classes. The loss is computed by the engine from the
logits through ``loss`` (MMAction2's ``loss_cls`` config and label smoothing); ``forward`` never
computes it.
"""

from __future__ import annotations

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from vidlab.models._checks import built
from vidlab.models.losses import CrossEntropyLoss


class AvgConsensus(nn.Module):
    """Mean over ``dim`` (the segments), keeping the dimension."""

    def __init__(self, dim: int = 1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return x.mean(dim=self.dim, keepdim=True)


class BaseHead(nn.Module):
    """The classifier ``fc_cls``, the loss, label smoothing and how views are averaged.

    Args:
        num_classes: Number of classes.
        in_channels: Channels of the input features.
        loss_cls: Loss module; None: ``CrossEntropyLoss()``.
        multi_class: Multi-label task (use ``BCELossWithLogits``).
        label_smooth_eps: Label smoothing epsilon: targets become
            ``(1 - eps) * one_hot + eps / num_classes``.
        topk: Top-k accuracies to report (kept for config compatibility).
        average_clips: How ``Recognizer.average_views`` merges views: ``'prob'`` (mean of softmax),
            ``'score'`` (mean of logits) or None (as ``'score'``).
        dropout_ratio: Dropout before ``fc_cls`` (0 disables it).
        init_std: Std of the ``fc_cls`` weight init.
        init_cfg: Accepted for MMAction2 config compatibility.
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        loss_cls: nn.Module | None = None,
        multi_class: bool = False,
        label_smooth_eps: float = 0.0,
        topk: int | tuple[int, ...] = (1, 5),
        average_clips: str | None = None,
        dropout_ratio: float = 0.5,
        init_std: float = 0.01,
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
        loss_cls = built(loss_cls, f"{type(self).__name__}(loss_cls=...)")
        self.loss_cls = CrossEntropyLoss() if loss_cls is None else loss_cls
        self.multi_class = multi_class
        self.label_smooth_eps = label_smooth_eps
        self.topk = topk
        self.average_clips = average_clips
        self.dropout_ratio = dropout_ratio
        self.init_std = init_std
        self.init_cfg = init_cfg
        self.dropout = nn.Dropout(p=dropout_ratio) if dropout_ratio != 0 else None
        self.fc_cls = nn.Linear(in_channels, num_classes)
        self.init_weights()

    def init_weights(self) -> None:
        """Normal(0, init_std) for ``fc_cls.weight``, zeros for its bias."""
        nn.init.normal_(self.fc_cls.weight, 0, self.init_std)
        nn.init.zeros_(self.fc_cls.bias)

    def reset_classifier(self, num_classes: int) -> None:
        """A new, freshly initialized ``fc_cls`` for ``num_classes`` classes."""
        ref = self.fc_cls.weight
        self.fc_cls = nn.Linear(self.in_channels, num_classes).to(ref.device, ref.dtype)
        self.num_classes = num_classes
        self.init_weights()

    def pre_logits(self, x: Tensor, num_segs: int | None = None) -> Tensor:
        """Pooled features ``(N, in_channels)``: what ``fc_cls`` sees, before dropout."""
        raise NotImplementedError

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

    def _classify(self, x: Tensor) -> Tensor:
        """Dropout and ``fc_cls`` on pooled features ``(M, in_channels)`` -> ``(M, K)``."""
        if self.dropout is not None:
            x = self.dropout(x)
        return self.fc_cls(x)


class PooledHead(BaseHead):
    """Global average pool, dropout, ``fc_cls``: ``(N, C, *dims)`` -> ``(N, K)``.

    The head of I3D (3D maps) and of TSN for audio (2D maps); SlowFast's, TSN's and TSM's heads
    are this head with their differences. ``pool_type`` is the pooling class: ``AdaptiveAvgPool3d``
    here, a subclass for 2D maps sets ``AdaptiveAvgPool2d``.

    Args:
        num_classes: Number of classes.
        in_channels: Input channels.
        spatial_type: ``'avg'`` pools; anything else expects pooled features.
        dropout_ratio: Dropout before ``fc_cls`` (0 disables it).
        init_std: Std of the ``fc_cls`` weight init.
        **kwargs: ``BaseHead`` arguments (``loss_cls``, ``average_clips``, ...).
    """

    pool_type: type[nn.Module] = nn.AdaptiveAvgPool3d

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        spatial_type: str | None = "avg",
        dropout_ratio: float = 0.5,
        init_std: float = 0.01,
        **kwargs,
    ) -> None:
        super().__init__(
            num_classes, in_channels, dropout_ratio=dropout_ratio, init_std=init_std, **kwargs
        )
        self.spatial_type = spatial_type
        self.avg_pool = self.pool_type(1) if spatial_type == "avg" else None

    def _pool(self, x: Tensor) -> Tensor:
        """``(M, C, *dims)`` -> ``(M, C)``; features already pooled pass through flattened."""
        if self.avg_pool is not None:
            x = self.avg_pool(x)  # (M, C, 1, ...)
        return x.flatten(1)  # (M, C)

    def pre_logits(self, x: Tensor, num_segs: int | None = None) -> Tensor:
        return self._pool(x)  # (N, C)

    def forward(self, x: Tensor, num_segs: int | None = None, **kwargs) -> Tensor:
        return self._classify(self.pre_logits(x, num_segs))  # (N, K)
