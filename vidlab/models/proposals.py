"""Temporal proposals: overlap measures, soft-NMS and MMAction2's proposal post-processing.

Shared by the temporal localizers (``vidlab.models.bmn``; BSN and TCANet use the same). The
definitions are MMAction2's (``mmaction/models/localizers/utils/proposal_utils.py``), written
as NumPy array code; the operations and their order are kept, so the results are identical,
not just close: a proposal list that differs in its last bit can reorder ties in soft-NMS.
"""

from __future__ import annotations

import numpy as np

__all__ = ["post_processing", "proposal_array", "soft_nms", "temporal_iop", "temporal_iou"]


def temporal_iou(proposal_min, proposal_max, gt_min, gt_max):
    """Intersection over union of 1D segments (arrays broadcast).

    Returns:
        ``inter / (proposal length - inter + gt length)``, elementwise.
    """
    length = proposal_max - proposal_min
    inter = np.maximum(np.minimum(proposal_max, gt_max) - np.maximum(proposal_min, gt_min), 0.0)
    return np.divide(inter, length - inter + gt_max - gt_min)


def temporal_iop(proposal_min, proposal_max, gt_min, gt_max):
    """Intersection over the *proposal's* length (BMN's boundary labels use it)."""
    length = np.array(proposal_max - proposal_min)
    inter = np.maximum(np.minimum(proposal_max, gt_max) - np.maximum(proposal_min, gt_min), 0.0)
    return np.divide(inter, length)


def soft_nms(
    proposals: np.ndarray, alpha: float, low_threshold: float, high_threshold: float, top_k: int
) -> np.ndarray:
    """Gaussian soft-NMS of ``(n, >=3)`` proposals ``[tmin, tmax, ..., score]``.

    Repeatedly keeps the best remaining proposal and decays the score of every other one whose
    IoU with it exceeds ``low + (high - low) * width`` (width of the kept one, in the unit of
    ``tmin``/``tmax``) by ``exp(-iou^2 / alpha)``. As MMAction2, it keeps up to ``top_k + 1``.

    Returns:
        ``(k, 3)`` ``[tmin, tmax, decayed score]`` in the order they were kept.
    """
    proposals = proposals[proposals[:, -1].argsort()[::-1]]
    start = proposals[:, 0].copy()
    end = proposals[:, 1].copy()
    score = proposals[:, -1].copy()  # the input's dtype: BSN's PEM scores are float32
    alive = np.ones(len(score), dtype=bool)
    kept: list[int] = []
    kept_score: list[float] = []
    while alive.any() and len(kept) <= top_k:
        # the first best among the remaining (removed ones are -inf), as list.pop keeps order
        best = int(np.argmax(np.where(alive, score, -np.inf)))
        width = end[best] - start[best]
        iou = temporal_iou(start[best], end[best], start, end)
        decay = np.exp(-np.square(iou) / alpha)
        hit = alive & (iou > low_threshold + (high_threshold - low_threshold) * width)
        hit[best] = False
        score[hit] = score[hit] * decay[hit]
        kept.append(best)
        kept_score.append(score[best])
        alive[best] = False
    kept_idx = np.array(kept, dtype=np.int64)
    return np.stack([start[kept_idx], end[kept_idx], np.array(kept_score)], axis=1)


def post_processing(
    result: np.ndarray,
    video_info: dict,
    soft_nms_alpha: float,
    soft_nms_low_threshold: float,
    soft_nms_high_threshold: float,
    post_process_top_k: int,
    feature_extraction_interval: int,
) -> list[dict]:
    """Soft-NMS, then the best ``post_process_top_k`` proposals in seconds.

    ``result`` rows are ``[tmin, tmax, ..., score]`` with times relative to the featured part
    of the video (0..1). That part is ``duration_frame`` rounded down to a multiple of
    ``feature_extraction_interval`` frames, as MMAction2 computes it.

    Returns:
        ``[{'score': s, 'segment': [start_s, end_s]}, ...]``, best first.
    """
    if len(result) > 1:
        result = soft_nms(
            result,
            soft_nms_alpha,
            soft_nms_low_threshold,
            soft_nms_high_threshold,
            post_process_top_k,
        )
    result = result[result[:, -1].argsort()[::-1]]
    frames = video_info["duration_frame"]
    featured = float(frames // feature_extraction_interval * feature_extraction_interval)
    duration = featured / frames * video_info["duration_second"]
    return [
        {
            "score": float(row[-1]),
            "segment": [max(0, row[0]) * duration, min(1, row[1]) * duration],
        }
        for row in result[:post_process_top_k]
    ]


def proposal_array(proposal_list: list[dict]) -> np.ndarray:
    """``[{'segment': [s, e], 'score': p}]`` -> ``(n, 3)`` float64 ``[s, e, p]``."""
    rows = [[p["segment"][0], p["segment"][1], p["score"]] for p in proposal_list]
    return np.array(rows, dtype=np.float64).reshape(-1, 3)
