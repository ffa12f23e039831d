"""Greedy detection-to-ground-truth matching and VOC average precision, vectorised.

Shared by the AVA and MultiSports frame metrics (``vidlab.evaluation.ava``,
``vidlab.evaluation.multisports``): both follow the VOC rule in which a detection, in rank
order, may only claim the ground-truth box of its group (frame and class) that it overlaps
most (the first of equal ones, as ``np.argmax``); it is a true positive when that overlap
reaches the threshold and no earlier detection claimed the box. Since a detection never falls
back to another box, the rule needs no loop: the true positives are the first claims.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["greedy_true_positives", "voc_average_precision"]


def greedy_true_positives(
    det_group: np.ndarray,
    gt_group: np.ndarray,
    pair_iou: Callable[[np.ndarray, np.ndarray], np.ndarray],
    thr: float,
) -> np.ndarray:
    """Which detections are true positives.

    Args:
        det_group: ``(n,)`` integer group (e.g. frame and class) of each detection, the
            detections in rank order (best first).
        gt_group: ``(g,)`` group of each ground-truth box; within a group, their order is the
            one ``np.argmax`` breaks ties by.
        pair_iou: ``pair_iou(det_index, gt_index)`` -> the IoUs of those row-aligned pairs
            (NaN where undefined: never a match, as with ``np.argmax`` on a NaN).
        thr: the least IoU of a match.

    Returns:
        ``(n,)`` bool.
    """
    det_group = np.asarray(det_group, dtype=np.int64)
    gt_group = np.asarray(gt_group, dtype=np.int64)
    tp = np.zeros(len(det_group), dtype=bool)
    g_order = np.argsort(gt_group, kind="stable")  # the ground truth of a group: contiguous
    g_sorted = gt_group[g_order]
    start = np.searchsorted(g_sorted, det_group, side="left")
    count = np.searchsorted(g_sorted, det_group, side="right") - start
    has = np.nonzero(count)[0]
    if len(has) == 0:
        return tp
    # every (detection, ground truth of its group) pair, detection-major
    first_pair = np.cumsum(count) - count
    det_of_pair = np.repeat(np.arange(len(det_group)), count)
    offsets = np.arange(len(det_of_pair)) - np.repeat(first_pair, count)
    gt_of_pair = g_order[np.repeat(start, count) + offsets]
    iou = pair_iou(det_of_pair, gt_of_pair)
    first = first_pair[has]
    nan = np.isnan(iou)
    best = np.maximum.reduceat(np.where(nan, -np.inf, iou), first)
    valid = (np.add.reduceat(nan.astype(np.int64), first) == 0) & (best >= thr)
    is_best = iou == np.repeat(best, count[has])
    chosen = np.minimum.reduceat(np.where(is_best, np.arange(len(iou)), len(iou)), first)
    claimed = gt_of_pair[chosen[valid]]  # the ground-truth box each valid detection claims
    _, first_claim = np.unique(claimed, return_index=True)  # the earliest claim wins
    tp[has[valid][first_claim]] = True
    return tp


def voc_average_precision(precision: np.ndarray, recall: np.ndarray) -> float:
    """VOC AP: the area under the precision-recall curve, precision made non-increasing."""
    recall = np.concatenate([[0], recall, [1]])
    precision = np.concatenate([[0], precision, [0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.nonzero(recall[1:] != recall[:-1])[0] + 1
    return float(np.sum((recall[steps] - recall[steps - 1]) * precision[steps]))
