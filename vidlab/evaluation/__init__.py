"""Evaluation metrics (MMAction2 definitions and keys)."""

from vidlab.evaluation.metrics import (
    AccMetric,
    ConfusionMatrix,
    balanced_accuracy,
    confusion_matrix,
    get_weighted_score,
    mean_average_precision,
    mean_class_accuracy,
    mmit_mean_average_precision,
    top_k_accuracy,
    top_k_classes,
)
from vidlab.evaluation.temporal import average_recall_at_avg_proposals, pairwise_temporal_iou

__all__ = [
    "AccMetric",
    "ConfusionMatrix",
    "average_recall_at_avg_proposals",
    "balanced_accuracy",
    "confusion_matrix",
    "get_weighted_score",
    "mean_average_precision",
    "mean_class_accuracy",
    "mmit_mean_average_precision",
    "pairwise_temporal_iou",
    "top_k_accuracy",
    "top_k_classes",
]
