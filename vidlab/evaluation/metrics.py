"""Classification metrics with MMAction2 1.2's definitions and result keys.

``AccMetric().compute(scores, labels)`` returns ``{"acc/top1": .., "acc/top5": .., "acc/mean1": ..}``,
the keys MMAction2 1.x logs, so ``save_best='acc/top1'`` in a config means the same thing here.

Every function gives MMAction2's number, including its corner cases (tests/evaluation hold fixtures
made with MMAction2 itself):

- ``top_k_accuracy`` ranks classes with numpy's default ``argsort`` of the scores, reversed: among
  tied scores the higher class index ranks first (for more than a handful of classes numpy's
  default sort is not stable, and tied classes come in the order numpy's sort leaves them, as in
  MMAction2).
- ``mean_class_accuracy`` averages over every class that is a label *or* a prediction; a class that
  is predicted but never a label counts as 0. ``balanced_accuracy`` is the usual alternative
  (classes that occur as labels only).
- ``mean_average_precision`` is the step-wise area under each class's precision-recall curve with
  tied scores grouped (independent of the order of tied samples); a class without positives has no
  AP and is left out; with no positives at all the result is ``nan``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "AccMetric",
    "ConfusionMatrix",
    "balanced_accuracy",
    "binary_precision_recall_curve",
    "confusion_matrix",
    "get_weighted_score",
    "mean_average_precision",
    "mean_class_accuracy",
    "mmit_mean_average_precision",
    "rank_classes",
    "softmax",
    "top_k_accuracy",
    "top_k_classes",
]

METRICS = (
    "top_k_accuracy",
    "mean_class_accuracy",
    "mean_average_precision",
    "mmit_mean_average_precision",
    "balanced_accuracy",
)


def _as_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, without importing torch here
        x = x.detach().cpu()
        if str(x.dtype) == "torch.bfloat16":  # numpy has no bfloat16
            x = x.float()
        x = x.numpy()
    elif isinstance(x, list | tuple) and x and hasattr(x[0], "detach"):
        x = [_as_numpy(v) for v in x]
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


def rank_classes(scores) -> np.ndarray:
    """Class indices of each row, best first, ranked as MMAction2's ``top_k_accuracy`` ranks them.

    Args:
        scores: ``(N, K)`` class scores.

    Returns:
        ``(N, K)`` int64 class indices.
    """
    # numpy's default sort, ascending, read backwards: the exact order MMAction2 uses, ties
    # included (the higher index first where the sort keeps tied elements in place).
    return np.argsort(_as_numpy(scores), axis=1)[:, ::-1]


def top_k_accuracy(scores, labels, topk: int | Sequence[int] = (1,)) -> list[float]:
    """Fraction of samples whose label is among the ``k`` highest scores, for each ``k``.

    Args:
        scores: ``(N, K)`` class scores or logits (array, tensor, or list of rows).
        labels: ``(N,)`` integer labels.
        topk: the values of ``k``.

    Returns:
        One accuracy in ``[0, 1]`` per ``k``, in the order of ``topk`` (``nan`` for no samples).
    """
    scores, labels = _check_scores_labels(scores, labels)
    if isinstance(topk, int):
        topk = (topk,)
    order = rank_classes(scores)
    labels = labels.reshape(-1, 1)
    results = []
    for k in topk:
        if int(k) < 1:
            raise ValueError(f"topk values must be >= 1, got {k}")
        hit = (order[:, : int(k)] == labels).any(axis=1)
        results.append(float(hit.sum() / hit.shape[0]) if len(hit) else float("nan"))
    return results


def _as_int_labels(x, name: str) -> np.ndarray:
    x = _as_numpy(x)
    if x.size and not np.issubdtype(x.dtype, np.integer):
        raise TypeError(f"{name} must hold integer class indices, got dtype {x.dtype}")
    return x.astype(np.int64).reshape(-1)


def confusion_matrix(y_pred, y_real, normalize: str | None = None) -> np.ndarray:
    """Confusion matrix over the classes that occur in ``y_pred`` or ``y_real`` (MMAction2's).

    Rows are true classes, columns predicted ones, both in increasing class order; a class
    that occurs in neither has no row or column.

    Args:
        y_pred: ``(N,)`` predicted class indices.
        y_real: ``(N,)`` true class indices.
        normalize: ``"true"`` (rows sum to 1), ``"pred"`` (columns), ``"all"``, or ``None``
            (counts). Empty rows or columns become 0, not ``nan``.
    """
    if normalize not in ("true", "pred", "all", None):
        raise ValueError(f"normalize must be one of 'true', 'pred', 'all', None; got {normalize!r}")
    y_pred = _as_int_labels(y_pred, "y_pred")
    y_real = _as_int_labels(y_real, "y_real")
    classes = np.unique(np.concatenate((y_pred, y_real)))
    n = len(classes)
    pred_pos = np.searchsorted(classes, y_pred)
    real_pos = np.searchsorted(classes, y_real)
    counts = np.bincount(n * real_pos + pred_pos, minlength=n * n).reshape(n, n)
    if normalize is None:
        return counts
    with np.errstate(all="ignore"):
        if normalize == "true":
            out = counts / counts.sum(axis=1, keepdims=True)
        elif normalize == "pred":
            out = counts / counts.sum(axis=0, keepdims=True)
        else:
            out = counts / counts.sum()
    return np.nan_to_num(out)


def _per_class_hit_ratio(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    """(hit ratio, count) per class of the confusion matrix of the top-1 predictions."""
    scores, labels = _check_scores_labels(scores, labels)
    # np.argmax keeps the first of tied maxima: MMAction2's mean1 uses it, so on ties mean1
    # may count a different prediction than top1 does.
    cm = confusion_matrix(np.argmax(scores, axis=1), labels).astype(float)
    counts, hits = cm.sum(axis=1), np.diag(cm)
    return np.array([h / c if c else 0.0 for c, h in zip(counts, hits)]), counts


def mean_class_accuracy(scores, labels) -> float:
    """Top-1 accuracy per class, averaged over the classes that are a label or a prediction.

    This is MMAction2's definition: a class the model predicts but that never occurs as a
    label counts as 0 accuracy. See :func:`balanced_accuracy` for the mean over labels only.

    Args:
        scores: ``(N, K)`` class scores.
        labels: ``(N,)`` integer labels.
    """
    ratios, _ = _per_class_hit_ratio(scores, labels)
    return float(np.mean(ratios)) if len(ratios) else float("nan")


def balanced_accuracy(scores, labels) -> float:
    """Top-1 accuracy per class, averaged over the classes that occur in ``labels``.

    The mean of per-class recall (scikit-learn's ``balanced_accuracy_score``). It differs from
    :func:`mean_class_accuracy` only when a predicted class never occurs as a label.
    """
    ratios, counts = _per_class_hit_ratio(scores, labels)
    present = ratios[counts > 0]
    return float(np.mean(present)) if len(present) else float("nan")


def top_k_classes(scores, labels, k: int = 10, mode: str = "accurate", label_ids: bool = False):
    """The ``k`` classes with the highest (``"accurate"``) or lowest top-1 accuracy.

    Args:
        scores: ``(N, K)`` class scores.
        labels: ``(N,)`` integer labels.
        k: how many classes.
        mode: ``"accurate"`` (best first) or ``"inaccurate"`` (worst first).
        label_ids: MMAction2 returns the position of a class among the classes that occur
            (labels and predictions, sorted), which is the class id only when those are
            ``0..n-1``; ``True`` returns the class id itself.

    Returns:
        A list of ``(class, accuracy)`` pairs.
    """
    if mode not in ("accurate", "inaccurate"):
        raise ValueError(f"mode must be 'accurate' or 'inaccurate', got {mode!r}")
    ratios, _ = _per_class_hit_ratio(scores, labels)
    order = np.argsort(ratios)  # numpy's default sort, as MMAction2: same order on ties
    picked = order[-k:][::-1] if mode == "accurate" else order[:k]
    if label_ids:
        scores, labels = _check_scores_labels(scores, labels)
        classes = np.unique(np.concatenate((np.argmax(scores, axis=1), labels.astype(np.int64))))
        return list(zip(classes[picked], ratios[picked]))
    return list(zip(picked, ratios[picked]))


def binary_precision_recall_curve(y_score, y_true):
    """Precision and recall at each distinct score threshold, as MMAction2 computes them.

    Args:
        y_score: ``(M,)`` scores.
        y_true: ``(M,)`` truth; only entries equal to 1 are positives.

    Returns:
        ``(precision, recall, thresholds)``: from the threshold reaching full recall up to the
        highest score, followed by the end point ``precision=1, recall=0``.
    """
    y_score, y_true = np.asarray(y_score), np.asarray(y_true)
    if y_score.shape != y_true.shape:
        raise ValueError(f"y_score {y_score.shape} and y_true {y_true.shape} differ in shape")
    positive = y_true == 1
    order = np.argsort(y_score, kind="mergesort")[::-1]  # descending
    y_score, positive = y_score[order], positive[order]
    # One threshold per run of tied scores: the last index of each run.
    last_of_run = np.r_[np.flatnonzero(np.diff(y_score)), positive.size - 1]
    tps = np.cumsum(positive)[last_of_run]
    fps = 1 + last_of_run - tps
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tps / (tps + fps)
        precision[np.isnan(precision)] = 0
        recall = tps / tps[-1]  # nan everywhere without positives
    full = tps.searchsorted(tps[-1])
    back = slice(full, None, -1)
    return np.r_[precision[back], 1], np.r_[recall[back], 0], y_score[last_of_run][back]


def _average_precision(score, truth) -> float:
    precision, recall, _ = binary_precision_recall_curve(score, truth)
    return -np.sum(np.diff(recall) * np.array(precision)[:-1])


def _multi_hot(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    if labels.ndim == 1:  # single-label (a vidlab extension): one-hot it
        onehot = np.zeros(scores.shape, dtype=np.int64)
        onehot[np.arange(len(labels)), labels.astype(np.int64)] = 1
        return onehot
    if labels.shape != scores.shape:
        raise ValueError(f"labels {labels.shape} must be multi-hot like scores {scores.shape}")
    return labels


def mean_average_precision(scores, labels) -> float:
    """Mean over classes of the average precision (multi-label; ``labels`` is ``(N, K)`` 0/1).

    Tied scores form one threshold, so the result does not depend on the order of samples.
    Classes without a positive sample have no AP and are left out of the mean; ``nan`` if no
    class has one. ``(N,)`` integer labels are one-hot encoded (MMAction2 needs multi-hot).
    """
    scores, labels = _check_scores_labels(scores, labels)
    labels = _multi_hot(scores, labels)
    with np.errstate(invalid="ignore", divide="ignore"):
        aps = [_average_precision(s, t) for s, t in zip(scores.T, labels.T)]
    aps = [ap for ap in aps if not np.isnan(ap)]
    return float(np.mean(aps)) if aps else float("nan")


def mmit_mean_average_precision(scores, labels) -> float:
    """Multi-Moments-in-Time mAP: average precision over the classes of each sample, averaged
    over samples. A sample without a positive class makes the result ``nan`` (as MMAction2)."""
    scores, labels = _check_scores_labels(scores, labels)
    labels = _multi_hot(scores, labels)
    with np.errstate(invalid="ignore", divide="ignore"):
        aps = [_average_precision(s, t) for s, t in zip(scores, labels)]
    return float(np.mean(aps))


def get_weighted_score(score_list, coeff_list) -> list[np.ndarray]:
    """Score fusion: ``sum_i coeff_i * scores_i`` for the score sets of several models.

    Args:
        score_list: ``n`` score sets, each ``(num_samples, num_classes)`` (or a list of rows).
        coeff_list: ``n`` coefficients.

    Returns:
        A list of ``num_samples`` fused score rows.
    """
    if len(score_list) != len(coeff_list):
        raise ValueError(
            f"{len(score_list)} score sets but {len(coeff_list)} coefficients; give one each"
        )
    sizes = [len(s) for s in score_list]
    if len(set(sizes)) > 1:
        raise ValueError(f"the score sets must have the same number of samples, got {sizes}")
    stacked = np.array([_as_numpy(s) for s in score_list])  # (n, num_samples, num_classes)
    # The contraction MMAction2 does (same summation order, same bits).
    return list(np.dot(stacked.T, np.array(coeff_list)).T)


def softmax(x, dim: int = 1) -> np.ndarray:
    """Numerically stable softmax of a numpy array along ``dim``."""
    e = np.exp(x - np.max(x, axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


def _sample_get(sample, key):
    """``sample[key]`` of a dict or an MMAction2 data sample (``None`` if absent)."""
    if isinstance(sample, dict):
        return sample.get(key)
    return getattr(sample, key, None)


class _BaseMetricAPI:
    """MMEngine's ``BaseMetric`` calls (``process`` per batch, ``evaluate(size)`` at the end),
    for code that drives a metric by hand; vidlab's engine calls ``compute(scores, labels)``."""

    prefix: str

    def process(self, data_batch, data_samples) -> None:
        """Keep ``pred_score`` (and ``pred_label``) and ``gt_label`` of each data sample."""
        results = self.__dict__.setdefault("results", [])
        for sample in data_samples:
            pred, label = _sample_get(sample, "pred_score"), _sample_get(sample, "gt_label")
            label = _as_numpy(label).reshape(-1)
            results.append(
                {
                    "pred": None if pred is None else _as_numpy(pred),
                    "pred_label": _sample_get(sample, "pred_label"),
                    "label": int(label[0]) if label.size == 1 else label,
                }
            )

    def evaluate(self, size: int | None = None) -> dict:
        """The metrics of everything processed, with prefixed keys; the results are cleared."""
        out = self.compute_metrics(self.__dict__.get("results", []))
        self.results = []
        return {f"{self.prefix}/{k}": v for k, v in out.items()}


class AccMetric(_BaseMetricAPI):
    """MMAction2's ``AccMetric``: a list of metrics computed over a whole evaluation set.

    Args:
        metric_list: names among ``top_k_accuracy``, ``mean_class_accuracy``,
            ``mean_average_precision``, ``mmit_mean_average_precision`` (MMAction2's) and
            ``balanced_accuracy`` (vidlab's: key ``acc/balanced1``).
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
            for the metrics asked. For multi-stream scores (RGBPoseConv3D: one ``{"rgb": (K,),
            "pose": (K,)}`` dict per sample) each stream's metrics are prefixed with its name
            (``acc/rgb_top1``) and, for exactly ``rgb`` and ``pose``, those of the weighted
            sums ``1:1``, ``2:1``, ``1:2`` follow (``acc/RGBPose_1:1_top1``), as MMAction2.
        """
        if len(scores) and isinstance(scores[0], Mapping):
            return self._compute_streams(scores, labels)
        results: dict[str, float] = {}
        labels_np = _as_numpy(labels)
        single_label = labels_np.ndim == 1
        p = self.prefix
        for name in self.metric_list:
            if name in ("mean_average_precision", "mmit_mean_average_precision"):
                fn = globals()[name]
                results[f"{p}/{name}"] = fn(scores, labels_np)
            elif not single_label:
                raise ValueError(
                    f"metric {name!r} needs one integer label per sample, but labels have shape "
                    f"{labels_np.shape}; use metric_list=('mean_average_precision',) "
                    "for multi-label data"
                )
            elif name == "top_k_accuracy":
                topk = self.metric_options.get("top_k_accuracy", {}).get("topk", (1, 5))
                topk = (topk,) if isinstance(topk, int) else tuple(topk)
                for k, acc in zip(topk, top_k_accuracy(scores, labels_np, topk)):
                    results[f"{p}/top{k}"] = acc
            elif name == "mean_class_accuracy":
                results[f"{p}/mean1"] = mean_class_accuracy(scores, labels_np)
            elif name == "balanced_accuracy":
                results[f"{p}/balanced1"] = balanced_accuracy(scores, labels_np)
        return results

    def _compute_streams(self, scores, labels) -> dict[str, float]:
        streams = {k: np.stack([_as_numpy(s[k]) for s in scores]) for k in scores[0]}
        p = self.prefix
        results: dict[str, float] = {}
        for name, stream in streams.items():
            for key, value in self.compute(stream, labels).items():
                results[f"{p}/{name}_{key[len(p) + 1 :]}"] = value
        if set(streams) == {"rgb", "pose"}:
            for w_rgb, w_pose in ((1, 1), (2, 1), (1, 2)):
                # MMAction2's get_weighted_score: a float64 dot over the streams
                both = np.stack([streams["rgb"], streams["pose"]])  # (2, N, K)
                fused = np.dot(both.T, np.array([w_rgb, w_pose])).T  # (N, K)
                for key, value in self.compute(fused, labels).items():
                    results[f"{p}/RGBPose_{w_rgb}:{w_pose}_{key[len(p) + 1 :]}"] = value
        return results

    def compute_metrics(self, results: list) -> dict:
        """MMAction2's ``compute_metrics``: the metrics of processed results, keys unprefixed."""
        if results and isinstance(results[0]["pred"], Mapping):
            scores = [r["pred"] for r in results]
        else:
            scores = np.stack([r["pred"] for r in results])
        labels = np.stack([np.asarray(r["label"]) for r in results])
        n = len(self.prefix) + 1
        return {k[n:]: v for k, v in self.compute(scores, labels).items()}

    def __repr__(self) -> str:
        return f"AccMetric(metric_list={self.metric_list}, prefix={self.prefix!r})"


class ConfusionMatrix(_BaseMetricAPI):
    """MMAction2's ``ConfusionMatrix`` metric: ``{"confusion_matrix/result": K x K counts}``.

    Rows are true classes, columns predicted ones (top-1 of the scores). The matrix is returned
    as a list of lists of ints so that logs and ``--out`` files can hold it (MMAction2 returns a
    tensor; :meth:`calculate` returns one too).

    Args:
        num_classes: ``K``; default: the width of the scores.
        prefix: prefix of the result key (``confusion_matrix`` as in MMAction2).
        collect_device: accepted for MMAction2 configs.
    """

    _accepts_any_kwargs = True

    def __init__(self, num_classes: int | None = None, collect_device: str = "cpu", prefix=None):
        self.num_classes = num_classes
        self.prefix = prefix or "confusion_matrix"

    def compute(self, scores, labels) -> dict[str, list]:
        scores = _as_numpy(scores)
        # MMAction2's process() sets num_classes to the score width whenever scores are given.
        matrix = self.calculate(scores, labels, num_classes=scores.shape[1])
        return {f"{self.prefix}/result": matrix.tolist()}

    def compute_metrics(self, results: list) -> dict:
        """MMAction2's ``compute_metrics``: ``{"result": K x K tensor}`` of processed results."""
        import torch

        num_classes = self.num_classes
        preds = []
        for r in results:
            if r["pred"] is not None:
                preds.append(int(np.argmax(r["pred"])))
                num_classes = r["pred"].shape[0]
            else:
                preds.append(int(_as_numpy(r["pred_label"]).reshape(-1)[0]))
        labels = torch.tensor([int(r["label"]) for r in results])
        return {"result": self.calculate(torch.tensor(preds), labels, num_classes=num_classes)}

    @staticmethod
    def calculate(pred, target, num_classes: int | None = None):
        """The confusion matrix as an int64 tensor ``(K, K)``.

        Args:
            pred: ``(N,)`` predicted labels or ``(N, K)`` scores.
            target: ``(N,)`` true labels.
            num_classes: ``K``; required when ``pred`` holds labels.
        """
        import torch

        pred = torch.as_tensor(_as_numpy(pred))
        target = torch.as_tensor(_as_numpy(target)).long()
        if target.ndim != 1:
            raise ValueError(f"target must be (N,) labels, got shape {tuple(target.shape)}")
        if pred.size(0) != target.size(0):
            raise ValueError(f"pred has {pred.size(0)} samples but target has {target.size(0)}")
        if pred.ndim == 1:
            if num_classes is None:
                raise ValueError("num_classes is required when pred holds labels, not scores")
            pred_label = pred.long()
        else:
            num_classes = num_classes or pred.size(1)
            pred_label = pred.argmax(dim=1).flatten()
        counts = torch.bincount(num_classes * target + pred_label, minlength=num_classes**2)
        return counts.reshape(num_classes, num_classes)

    @staticmethod
    def plot(
        confusion_matrix,
        include_values: bool = False,
        cmap: str = "viridis",
        classes: Sequence[str] | None = None,
        colorbar: bool = True,
        show: bool = True,
    ):
        """Draw the matrix with matplotlib (true classes down, predicted across, on top).

        Args:
            confusion_matrix: ``(K, K)`` counts (tensor, array or nested list).
            include_values: write each count in its cell.
            cmap: the colour map.
            classes: class names for the axes (default: indices).
            colorbar: draw a colour bar.
            show: call ``plt.show()``.

        Returns:
            The matplotlib figure.
        """
        import matplotlib.pyplot as plt

        m = _as_numpy(confusion_matrix)
        k = m.shape[0]
        fig, ax = plt.subplots(figsize=(10, 10))
        image = ax.imshow(m, interpolation="nearest", cmap=cmap)
        if include_values:
            middle = (m.max() + m.min()) / 2.0
            for i in range(k):
                for j in range(k):
                    value = m[i, j]
                    text = f"{value:d}" if np.issubdtype(m.dtype, np.integer) else f"{value:.2g}"
                    color = image.cmap(0.0) if value >= middle else image.cmap(1.0)
                    ax.text(j, i, text, ha="center", va="center", color=color)
        if colorbar:
            fig.colorbar(image, ax=ax)
        labels = list(classes) if classes is not None else list(range(k))
        ax.set(
            xticks=np.arange(k),
            yticks=np.arange(k),
            xticklabels=labels,
            yticklabels=labels,
            xlabel="Predicted label",
            ylabel="True label",
        )
        ax.xaxis.tick_top()
        ax.set_ylim((k - 0.5, -0.5))
        fig.autofmt_xdate(ha="center")
        if show:
            plt.show()
        return fig

    def __repr__(self) -> str:
        return f"ConfusionMatrix(num_classes={self.num_classes}, prefix={self.prefix!r})"
