"""Temporal-segment metrics of MMAction2 1.2 (shared by recognition tools and localization).

``pairwise_temporal_iou``, ``average_recall_at_avg_proposals`` (AR@AN, as reported for
ActivityNet proposals) and ``average_precision_at_temporal_iou`` (detection AP at tIoU
thresholds) give MMAction2's numbers; tests hold fixtures made with it.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "average_precision_at_temporal_iou",
    "average_recall_at_avg_proposals",
    "interpolated_precision_recall",
    "pairwise_temporal_iou",
]


def pairwise_temporal_iou(candidate_segments, target_segments, calculate_overlap_self=False):
    """Temporal IoU between each target segment and each candidate segment.

    Args:
        candidate_segments: ``(m, 2)`` or one ``(2,)`` segment ``[start, end]``.
        target_segments: ``(n, 2)`` segments.
        calculate_overlap_self: also return intersection / candidate length.

    Returns:
        ``(n, m)`` float32 IoU (``(n,)`` for one candidate), and the overlap ratio of the
        same shape when ``calculate_overlap_self``.
    """
    candidates = np.asarray(candidate_segments)
    targets = np.asarray(target_segments)
    one = candidates.ndim == 1
    if targets.ndim != 2 or candidates.ndim not in (1, 2):
        raise ValueError(
            "pairwise_temporal_iou needs candidate segments (m, 2) or (2,) and target segments "
            f"(n, 2); got shapes {candidates.shape} and {targets.shape}"
        )
    if one:
        candidates = candidates[np.newaxis, :]
    n, m = targets.shape[0], candidates.shape[0]
    iou = np.empty((n, m), dtype=np.float32)
    overlap_self = np.empty((n, m), dtype=np.float32)
    target_len = targets[:, 1] - targets[:, 0]
    for i, (start, end) in enumerate(candidates[:, :2]):
        inter = (np.minimum(end, targets[:, 1]) - np.maximum(start, targets[:, 0])).clip(0)
        union = target_len + (end - start) - inter
        iou[:, i] = inter.astype(float) / union
        if calculate_overlap_self:
            overlap_self[:, i] = inter.astype(float) / (end - start)
    if one:
        iou, overlap_self = iou[:, 0], overlap_self[:, 0]
    return (iou, overlap_self) if calculate_overlap_self else iou


def average_recall_at_avg_proposals(
    ground_truth: dict,
    proposals: dict,
    total_num_proposals: int,
    max_avg_proposals: float | None = None,
    temporal_iou_thresholds=np.linspace(0.5, 0.95, 10),  # noqa: B008 (read only)
):
    """Average recall against the average number of proposals per video (AR@AN).

    Args:
        ground_truth: video id -> ``(g, 2)`` segments.
        proposals: video id -> ``(p, 3)`` ``[start, end, score]``.
        total_num_proposals: the number of proposals in ``proposals``.
        max_avg_proposals: the largest average number of proposals per video considered
            (default: ``total_num_proposals / number of videos``).
        temporal_iou_thresholds: IoU thresholds a proposal must reach to recall a segment.

    Returns:
        ``(recall, average_recall, proposals_per_video, auc)``: ``recall[i, j]`` at the i-th
        threshold and the j-th of 100 proposal budgets, its mean over thresholds, the budgets
        as proposals per video, and the area under the AR@AN curve in percent.
    """
    thresholds = np.asarray(temporal_iou_thresholds)
    num_videos = len(ground_truth)
    if not max_avg_proposals:
        max_avg_proposals = float(total_num_proposals) / num_videos
    ratio = max_avg_proposals * float(num_videos) / total_num_proposals

    ious = []  # per video: (g, p) IoU of its ground truth with its kept proposals
    num_retrieved = 0
    for video_id in ground_truth:
        props = np.asarray(proposals[video_id])
        kept = props[props[:, 2].argsort()[::-1], :2].astype(np.float32)  # best score first
        gts = np.asarray(ground_truth[video_id])[:, :2].astype(np.float32)
        if kept.shape[0] == 0:
            ious.append(np.zeros((gts.shape[0], 1)))
            continue
        keep = min(int(kept.shape[0] * ratio), kept.shape[0])
        num_retrieved += keep
        ious.append(pairwise_temporal_iou(kept[:keep], gts))

    # Budgets as fractions (1%..100%) of the retrieved proposals, scaled per video.
    fractions = np.arange(1, 101) / 100.0 * (max_avg_proposals * float(num_videos) / num_retrieved)
    positives = np.array([iou.shape[0] for iou in ious], dtype=float)
    recall = np.empty((thresholds.shape[0], fractions.shape[0]))
    for r, threshold in enumerate(thresholds):
        matches = np.empty((num_videos, fractions.shape[0]))
        for v, iou in enumerate(ious):
            hit = iou >= threshold
            budgets = np.minimum((iou.shape[1] * fractions).astype(np.int32), iou.shape[1])
            for j, budget in enumerate(budgets):
                matches[v, j] = np.count_nonzero(hit[:, :budget].sum(axis=1))
        recall[r, :] = matches.sum(axis=0) / positives.sum()

    avg_recall = recall.mean(axis=0)
    proposals_per_video = fractions * (float(num_retrieved) / num_videos)
    trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy 2 renamed it
    area = trapezoid(avg_recall, proposals_per_video)
    auc = 100.0 * float(area) / proposals_per_video[-1]
    return recall, avg_recall, proposals_per_video, auc


def interpolated_precision_recall(precision, recall) -> float:
    """VOC 2011's interpolated average precision of a precision-recall curve."""
    p = np.concatenate([[0.0], precision, [0.0]])
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]  # precision made non-increasing from the right
    steps = np.flatnonzero(r[1:] != r[:-1]) + 1
    return float(np.sum((r[steps] - r[steps - 1]) * p[steps]))


def average_precision_at_temporal_iou(
    ground_truth: dict,
    prediction,
    temporal_iou_thresholds=np.linspace(0.5, 0.95, 10),  # noqa: B008 (read only)
) -> np.ndarray:
    """Average precision of one class's detections at each tIoU threshold (ActivityNet's).

    Detections are taken best score first; each is a true positive at a threshold when its
    best-overlapping ground-truth segment of the same video not yet matched at that threshold
    reaches it (MMAction2's ``average_precision_at_temporal_iou``).

    Args:
        ground_truth: video id -> ``(g, 2)`` segments of this class.
        prediction: rows ``[video_id, class_id, start, end, score]``.
        temporal_iou_thresholds: The thresholds.

    Returns:
        float32 ``(len(thresholds),)`` APs.
    """
    thresholds = np.asarray(temporal_iou_thresholds)
    ap = np.zeros(len(thresholds), dtype=np.float32)
    if len(prediction) < 1:
        return ap
    num_gts = float(sum(len(v) for v in ground_truth.values()))
    matched = {k: np.full((len(thresholds), len(v)), False) for k, v in ground_truth.items()}
    prediction = np.array(prediction)
    prediction = prediction[np.argsort(prediction[:, 4].astype(float))[::-1]]
    tp = np.zeros((len(thresholds), len(prediction)), dtype=np.int32)
    for i, row in enumerate(prediction):
        video = row[0]
        if video not in ground_truth:
            continue  # a false positive at every threshold
        iou = pairwise_temporal_iou(row[2:4].astype(float), np.array(ground_truth[video], float))
        order = iou.argsort()[::-1]
        for t, threshold in enumerate(thresholds):
            for j in order:  # the best free segment above the threshold, if any
                if iou[j] < threshold:
                    break
                if not matched[video][t, j]:
                    matched[video][t, j] = True
                    tp[t, i] = 1
                    break
    tp_cum = np.cumsum(tp, axis=1).astype(np.float32)
    fp_cum = np.cumsum(1 - tp, axis=1).astype(np.float32)
    recall = tp_cum / num_gts
    precision = tp_cum / (tp_cum + fp_cum)
    for t in range(len(thresholds)):
        ap[t] = interpolated_precision_recall(precision[t], recall[t])
    return ap
