"""Classification metrics with MMAction2's definitions and result keys.

``AccMetric().compute(scores, labels)`` returns ``{"acc/top1": .., "acc/top5": .., "acc/mean1": ..}``,
the keys MMAction2 1.x logs, so ``save_best='acc/top1'`` in a config means the same thing here.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import numpy as np

__all__ = [
    "AccMetric",
    "mean_average_precision",
    "mean_class_accuracy",
    "top_k_accuracy",
]

METRICS = ("top_k_accuracy", "mean_class_accuracy", "mean_average_precision")


def _as_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, without importing torch here
        x = x.detach().float().cpu().numpy()
    return np.asarray(x)


def _check_scores_labels(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    scores, labels = _as_numpy(scores), _as_numpy(labels)
    if scores.ndim != 2:
        raise ValueError(f"scores must be (num_samples, num_classes), got shape {scores.shape}")
    if labels.shape[0] != scores.shape[0]:
        raise ValueError(
            f"scores has {scores.shape[0]} rows but labels has {labels.shape[0]}; "
            "they must describe the same samples"
        )
    return scores, labels


def top_k_accuracy(scores, labels, topk: Sequence[int] = (1, 5)) -> list[float]:
    """Fraction of samples whose label is among the ``k`` highest scores, for each ``k``.

    Args:
        scores: ``(N, K)`` class scores or logits (array or tensor).
        labels: ``(N,)`` integer labels.
        topk: the values of ``k``.

    Returns:
        One accuracy in ``[0, 1]`` per ``k``, in the order of ``topk``.
    """
    scores, labels = _check_scores_labels(scores, labels)
    if isinstance(topk, int):
        topk = (topk,)
    # Highest score first; a stable sort makes ties resolve by class index, reproducibly.
    order = np.argsort(-scores, axis=1, kind="stable")
    labels = labels.astype(np.int64).reshape(-1, 1)
    results = []
    for k in topk:
        if int(k) < 1:
            raise ValueError(f"topk values must be >= 1, got {k}")
        hit = (order[:, : int(k)] == labels).any(axis=1)
        results.append(float(hit.mean()) if len(hit) else 0.0)
    return results


def mean_class_accuracy(scores, labels) -> float:
    """Top-1 accuracy computed per class, averaged over the classes that occur in ``labels``.

    Args:
        scores: ``(N, K)`` class scores.
        labels: ``(N,)`` integer labels.
    """
    scores, labels = _check_scores_labels(scores, labels)
    labels = labels.astype(np.int64)
    preds = scores.argmax(axis=1)
    present = np.unique(labels)
    if len(present) == 0:
        return 0.0
    per_class = [(preds[labels == c] == c).mean() for c in present]
    return float(np.mean(per_class))


def mean_average_precision(scores, labels) -> float:
    """Mean over classes of the average precision (multi-label; ``labels`` is ``(N, K)`` 0/1).

    Classes without a positive sample are left out of the mean, as in MMAction2.
    """
    scores, labels = _check_scores_labels(scores, labels)
    if labels.ndim == 1:  # single-label: one-hot it
        onehot = np.zeros_like(scores)
        onehot[np.arange(len(labels)), labels.astype(np.int64)] = 1
        labels = onehot
    aps = []
    for c in range(scores.shape[1]):
        positives = labels[:, c] > 0
        if not positives.any():
            continue
        order = np.argsort(-scores[:, c], kind="stable")
        hits = positives[order]
        precision_at_hit = np.cumsum(hits)[hits] / (np.flatnonzero(hits) + 1)
        aps.append(precision_at_hit.mean())
    return float(np.mean(aps)) if aps else 0.0


class AccMetric:
    """MMAction2's ``AccMetric``: a list of metrics computed over a whole evaluation set.

    Args:
        metric_list: names among ``top_k_accuracy``, ``mean_class_accuracy``,
            ``mean_average_precision``.
        metric_options: per-metric options, e.g. ``dict(top_k_accuracy=dict(topk=(1, 5)))``.
        prefix: prefix of the result keys (``acc`` as in MMAction2).
        collect_device: accepted for MMAction2 configs; results are gathered by the engine.
    """

    _accepts_any_kwargs = True  # MMEngine BaseMetric arguments (config validation)

    def __init__(
        self,
        metric_list: str | Sequence[str] = ("top_k_accuracy", "mean_class_accuracy"),
        metric_options: dict | None = None,
        prefix: str | None = None,
        collect_device: str = "cpu",
        **kwargs,
    ):
        if isinstance(metric_list, str):
            metric_list = (metric_list,)
        for name in metric_list:
            if name not in METRICS:
                close = difflib.get_close_matches(name, METRICS, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ValueError(
                    f"AccMetric.metric_list has unknown metric {name!r}{hint} "
                    f"(known: {', '.join(METRICS)})"
                )
        self.metric_list = tuple(metric_list)
        self.metric_options = {"top_k_accuracy": {"topk": (1, 5)}}
        self.metric_options.update(metric_options or {})
        self.prefix = prefix or "acc"

    def compute(self, scores, labels) -> dict[str, float]:
        """Compute every metric of ``metric_list``.

        Args:
            scores: ``(N, K)`` scores of the whole set, in dataset order.
            labels: ``(N,)`` integer labels, or ``(N, K)`` multi-hot for mAP.

        Returns:
            ``{"acc/top1": .., "acc/top5": .., "acc/mean1": .., "acc/mean_average_precision": ..}``
            for the metrics asked.
        """
        results: dict[str, float] = {}
        labels_np = _as_numpy(labels)
        single_label = labels_np.ndim == 1
        for name in self.metric_list:
            if name == "top_k_accuracy" and single_label:
                topk = self.metric_options["top_k_accuracy"].get("topk", (1, 5))
                topk = (topk,) if isinstance(topk, int) else tuple(topk)
                for k, acc in zip(topk, top_k_accuracy(scores, labels_np, topk)):
                    results[f"{self.prefix}/top{k}"] = acc
            elif name == "mean_class_accuracy" and single_label:
                results[f"{self.prefix}/mean1"] = mean_class_accuracy(scores, labels_np)
            elif name == "mean_average_precision":
                results[f"{self.prefix}/mean_average_precision"] = mean_average_precision(
                    scores, labels_np
                )
            elif not single_label:
                raise ValueError(
                    f"metric {name!r} needs one integer label per sample, but labels have shape "
                    f"{labels_np.shape}; use metric_list=('mean_average_precision',) "
                    "for multi-label data"
                )
        return results

    def __repr__(self) -> str:
        return f"AccMetric(metric_list={self.metric_list}, prefix={self.prefix!r})"
