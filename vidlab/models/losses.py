"""Classification losses with MMAction2's names and arguments."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor


class _WeightedLoss(nn.Module):
    def __init__(self, loss_weight: float = 1.0, class_weight: Sequence[float] | None = None):
        super().__init__()
        self.loss_weight = loss_weight
        # Not persistent: MMAction2 keeps it out of the state dict too; a buffer follows .to().
        weight = None if class_weight is None else torch.tensor(class_weight, dtype=torch.float32)
        self.register_buffer("class_weight", weight, persistent=False)

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        return self.loss_weight * self._loss(logits, labels)

    def _loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        raise NotImplementedError


class CrossEntropyLoss(_WeightedLoss):
    """Cross entropy on logits ``(B, K)`` with hard labels ``(B,)`` or soft labels ``(B, K)``.

    Soft labels (mixup, cutmix, label smoothing) give ``mean_b(-sum_k y_bk log p_bk)``; with
    ``class_weight`` the log-probabilities are weighted per class and the sum is divided by
    ``sum(w_k * y_bk)``, as PyTorch's weighted cross entropy does for hard labels.

    Args:
        loss_weight: Factor on the loss.
        class_weight: One weight per class, or None.
    """

    def _loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        if logits.shape != labels.shape:  # hard labels
            return F.cross_entropy(logits, labels.long(), weight=self.class_weight)
        if logits.dim() != 2:
            raise ValueError(f"soft labels must be (B, K), got {tuple(labels.shape)}")
        log_probs = F.log_softmax(logits, dim=1)
        labels = labels.to(log_probs.dtype)
        if self.class_weight is None:
            return -(labels * log_probs).sum(1).mean()
        w = self.class_weight.unsqueeze(0)
        return -(labels * log_probs * w).sum() / (w * labels).sum()


class BCELossWithLogits(_WeightedLoss):
    """Binary cross entropy on logits for multi-label targets ``(B, K)`` in [0, 1].

    Hard labels ``(B,)`` are turned into one-hot targets.

    Args:
        loss_weight: Factor on the loss.
        class_weight: One weight per class, or None.
    """

    def _loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        if labels.shape != logits.shape and not labels.is_floating_point():
            labels = F.one_hot(labels.long(), logits.shape[-1])
        return F.binary_cross_entropy_with_logits(
            logits, labels.to(logits.dtype), weight=self.class_weight
        )


def binary_logistic_regression_loss(
    reg_score: Tensor,
    label: Tensor,
    threshold: float = 0.5,
    ratio_range: Sequence[float] = (1.05, 21),
    eps: float = 1e-5,
) -> Tensor:
    """Class-balanced binary log loss (MMAction2's): positives are ``label > threshold``,
    weighted by ``ratio / 2`` and negatives by ``ratio / (2 (ratio - 1))``, where ``ratio`` is
    entries per positive clipped to ``ratio_range``."""
    label = label.reshape(-1).to(reg_score.device)
    reg_score = reg_score.reshape(-1)
    pmask = (label > threshold).float()
    num_positive = pmask.sum().clamp(min=1)
    ratio = (label.numel() / num_positive).clamp(ratio_range[0], ratio_range[1])
    coef_0 = 0.5 * ratio / (ratio - 1)
    coef_1 = 0.5 * ratio
    loss = coef_1 * pmask * torch.log(reg_score + eps) + coef_0 * (1.0 - pmask) * torch.log(
        1.0 - reg_score + eps
    )
    return -loss.mean()


class BinaryLogisticRegressionLoss(nn.Module):
    """MMAction2's module form of :func:`binary_logistic_regression_loss` (BSN's TEM)."""

    def forward(self, reg_score, label, threshold=0.5, ratio_range=(1.05, 21), eps=1e-5):
        return binary_logistic_regression_loss(reg_score, label, threshold, ratio_range, eps)
