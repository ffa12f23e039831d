"""Evaluation metrics (MMAction2 definitions and keys)."""

from vidlab.evaluation.metrics import (
    AccMetric,
    mean_average_precision,
    mean_class_accuracy,
    top_k_accuracy,
)

__all__ = ["AccMetric", "mean_average_precision", "mean_class_accuracy", "top_k_accuracy"]
