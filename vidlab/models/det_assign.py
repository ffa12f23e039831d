"""Training-time RoI selection of the AVA detector: MMAction2's ``MaxIoUAssignerAVA`` on
MMDetection's ``MaxIoUAssigner``, MMDetection's ``RandomSampler`` and ``bbox2roi``, and
MMAction2's ``bbox_target`` (the multi-hot label of every sampled RoI).

For each clip, the assigner matches every proposal to the ground-truth box it overlaps most
(IoU, MMDetection's ``bbox_overlaps`` without the +1 pixel): ``-1`` ignored, ``0`` negative,
``i + 1`` positive for ground truth ``i``. The sampler then puts the ground-truth boxes in
front of the proposals (``add_gt_as_proposals``), and draws at most ``num * pos_fraction``
positives and the rest negatives with ``torch.randperm`` on the CPU generator, as MMDetection:
with the same seed the same RoIs are drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "AssignResult",
    "MaxIoUAssignerAVA",
    "RandomSampler",
    "SamplingResult",
    "bbox2roi",
    "bbox_overlaps",
    "bbox_targets",
]


def bbox_overlaps(boxes1: Tensor, boxes2: Tensor, eps: float = 1e-6) -> Tensor:
    """IoU of every pair, ``(n, 4) x (m, 4) -> (n, m)``, x1y1x2y2 without the +1 pixel
    (MMDetection 3's ``bbox_overlaps``, mode ``'iou'``; a 5th score column is dropped)."""
    boxes1, boxes2 = boxes1[:, :4], boxes2[:, :4]
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])
    lt = torch.max(boxes1[:, None, :2], boxes2[None, :, :2])  # (n, m, 2)
    rb = torch.min(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    overlap = wh[..., 0] * wh[..., 1]
    union = area1[:, None] + area2[None, :] - overlap
    return overlap / torch.max(union, union.new_tensor([eps]))


@dataclass
class AssignResult:
    """Which ground truth each box is matched to (MMDetection's ``AssignResult``).

    Attributes:
        num_gts: Ground-truth boxes of the clip.
        gt_inds: ``(m,)`` ``-1`` ignored, ``0`` negative, ``i + 1`` matched to ground truth ``i``.
        max_overlaps: ``(m,)`` the best IoU of each box.
        labels: ``(m, num_classes)`` the matched ground truth's multi-hot labels (0: none).
    """

    num_gts: int
    gt_inds: Tensor
    max_overlaps: Tensor
    labels: Tensor

    def add_gt_(self, gt_labels: Tensor) -> None:
        """Put the ground-truth boxes in front, each matched to itself."""
        own = torch.arange(1, len(gt_labels) + 1, dtype=torch.long, device=gt_labels.device)
        self.gt_inds = torch.cat([own, self.gt_inds])
        self.max_overlaps = torch.cat(
            [self.max_overlaps.new_ones(len(gt_labels)), self.max_overlaps]
        )
        self.labels = torch.cat([gt_labels.to(self.labels.dtype), self.labels])


class MaxIoUAssignerAVA:
    """MMAction2's ``MaxIoUAssignerAVA``: max-IoU assignment with multi-hot labels.

    Args:
        pos_iou_thr: IoU at or above which a box is positive.
        neg_iou_thr: IoU below which a box is negative (a float), or a ``(low, high)`` range.
        min_pos_iou: The least IoU of a low-quality match (step 4 below).
        gt_max_assign_all: Low-quality matches take every box tied at a ground truth's best IoU.
        ignore_iof_thr, ignore_wrt_candidates: MMDetection's ignored regions; AVA has none,
            so only the default (``-1``: off) is accepted.
        match_low_quality: Step 4: each ground truth also takes its best-overlapping box(es)
            when that IoU is at least ``min_pos_iou`` (may overwrite step 3).
        gpu_assign_thr: MMDetection's CPU fallback for many boxes; accepted, no effect.
        iou_calculator: ``dict(type='BboxOverlaps2D')`` only.
    """

    def __init__(
        self,
        pos_iou_thr: float,
        neg_iou_thr: float | tuple[float, float],
        min_pos_iou: float = 0.0,
        gt_max_assign_all: bool = True,
        ignore_iof_thr: float = -1,
        ignore_wrt_candidates: bool = True,
        match_low_quality: bool = True,
        gpu_assign_thr: float = -1,
        iou_calculator: dict | None = None,
    ) -> None:
        if ignore_iof_thr > 0:
            raise ValueError(
                "MaxIoUAssignerAVA: ignored regions (ignore_iof_thr > 0) are not supported"
            )
        calculator = (iou_calculator or {}).get("type", "BboxOverlaps2D")
        if calculator != "BboxOverlaps2D":
            raise ValueError(
                f"iou_calculator type {calculator!r}; only 'BboxOverlaps2D' is supported"
            )
        if isinstance(neg_iou_thr, list):
            neg_iou_thr = tuple(neg_iou_thr)
        self.pos_iou_thr = pos_iou_thr
        self.neg_iou_thr = neg_iou_thr
        self.min_pos_iou = min_pos_iou
        self.gt_max_assign_all = gt_max_assign_all
        self.ignore_iof_thr = ignore_iof_thr
        self.ignore_wrt_candidates = ignore_wrt_candidates
        self.match_low_quality = match_low_quality
        self.gpu_assign_thr = gpu_assign_thr

    def assign(self, priors: Tensor, gt_bboxes: Tensor, gt_labels: Tensor) -> AssignResult:
        """Match ``priors (m, 4)`` to ``gt_bboxes (n, 4)`` with labels ``(n, num_classes)``."""
        return self.assign_wrt_overlaps(bbox_overlaps(gt_bboxes, priors), gt_labels)

    def assign_wrt_overlaps(self, overlaps: Tensor, gt_labels: Tensor) -> AssignResult:
        """The assignment from the IoU matrix ``(n_gt, m)``."""
        num_gts, num_boxes = overlaps.shape
        gt_inds = overlaps.new_full((num_boxes,), -1, dtype=torch.long)
        if num_gts == 0 or num_boxes == 0:
            # without ground truth everything is background; MMAction2 gives labels of -1
            # (num_boxes,) here, which its bbox_target cannot pad: all-zero multi-hot rows
            # instead, so a clip without ground truth can share a batch
            if num_gts == 0:
                gt_inds[:] = 0
            width = gt_labels.shape[1] if gt_labels.dim() == 2 else 0
            return AssignResult(
                num_gts,
                gt_inds,
                overlaps.new_zeros((num_boxes,)),
                overlaps.new_zeros((num_boxes, width), dtype=torch.float32),
            )
        max_overlaps, argmax = overlaps.max(dim=0)  # per box: the best ground truth
        gt_max, gt_argmax = overlaps.max(dim=1)  # per ground truth: the best box
        if isinstance(self.neg_iou_thr, tuple):
            low, high = self.neg_iou_thr
            gt_inds[(max_overlaps >= low) & (max_overlaps < high)] = 0
        else:
            gt_inds[(max_overlaps >= 0) & (max_overlaps < self.neg_iou_thr)] = 0
        pos = max_overlaps >= self.pos_iou_thr
        gt_inds[pos] = argmax[pos] + 1
        if self.match_low_quality:
            for i in range(num_gts):  # in order: a later ground truth wins ties
                if gt_max[i] >= self.min_pos_iou:
                    if self.gt_max_assign_all:
                        gt_inds[overlaps[i] == gt_max[i]] = i + 1
                    else:
                        gt_inds[gt_argmax[i]] = i + 1
        if gt_labels.dim() != 2 or gt_labels.shape[1] <= 1:
            raise ValueError(
                f"MaxIoUAssignerAVA needs multi-hot labels (n, num_classes), got {tuple(gt_labels.shape)}"
            )
        labels = overlaps.new_zeros((num_boxes, gt_labels.shape[1]), dtype=torch.float32)
        matched = gt_inds > 0
        labels[matched] = gt_labels[gt_inds[matched] - 1].float()
        return AssignResult(num_gts, gt_inds, max_overlaps, labels)


@dataclass
class SamplingResult:
    """The sampled RoIs of one clip: positives first, then negatives (MMDetection's).

    Attributes:
        pos_inds, neg_inds: Indices into ``priors`` (ground truth first, then the proposals).
        priors: The boxes sampled from.
        gt_bboxes: The clip's ground-truth boxes.
        assign_result: The assignment (with the ground truth added).
        gt_flags: ``(len(priors),)`` 1 where the box is a ground-truth box.
    """

    pos_inds: Tensor
    neg_inds: Tensor
    priors_all: Tensor
    gt_bboxes: Tensor
    assign_result: AssignResult
    gt_flags: Tensor

    @property
    def pos_priors(self) -> Tensor:
        return self.priors_all[self.pos_inds]

    @property
    def neg_priors(self) -> Tensor:
        return self.priors_all[self.neg_inds]

    @property
    def priors(self) -> Tensor:
        """``(p + q, 4)``: the positive boxes, then the negative ones."""
        return torch.cat([self.pos_priors, self.neg_priors])

    @property
    def pos_is_gt(self) -> Tensor:
        return self.gt_flags[self.pos_inds]

    @property
    def pos_assigned_gt_inds(self) -> Tensor:
        return self.assign_result.gt_inds[self.pos_inds] - 1

    @property
    def pos_gt_labels(self) -> Tensor:
        return self.assign_result.labels[self.pos_inds]


class RandomSampler:
    """MMDetection's ``RandomSampler``.

    Args:
        num: RoIs per clip at most.
        pos_fraction: Share of positives among ``num`` at most.
        neg_pos_ub: Negatives at most this many times the positives (``-1``: no bound).
        add_gt_as_proposals: Sample from the ground-truth boxes too.
    """

    def __init__(
        self,
        num: int,
        pos_fraction: float,
        neg_pos_ub: int = -1,
        add_gt_as_proposals: bool = True,
        **kwargs,
    ) -> None:
        self.num = num
        self.pos_fraction = pos_fraction
        self.neg_pos_ub = neg_pos_ub
        self.add_gt_as_proposals = add_gt_as_proposals

    _accepts_any_kwargs = True  # MMDetection passes ``rng``/``context`` it does not use here

    @staticmethod
    def random_choice(gallery: Tensor, num: int) -> Tensor:
        """``num`` of ``gallery``'s items in random order (CPU ``randperm``, as MMDetection)."""
        perm = torch.randperm(gallery.numel())[:num].to(device=gallery.device)
        return gallery[perm]

    def _choose(self, candidates: Tensor, num_expected: int) -> Tensor:
        inds = torch.nonzero(candidates, as_tuple=False)
        if inds.numel() != 0:
            inds = inds.squeeze(1)
        if inds.numel() <= num_expected:
            return inds
        return self.random_choice(inds, num_expected)

    def sample(
        self, assign_result: AssignResult, priors: Tensor, gt_bboxes: Tensor, gt_labels: Tensor
    ) -> SamplingResult:
        """Draw the RoIs of one clip (the ground truth is added to ``assign_result`` in place)."""
        priors = priors[:, :4]
        if priors.dim() < 2:
            priors = priors[None, :]
        gt_flags = priors.new_zeros((priors.shape[0],), dtype=torch.uint8)
        if self.add_gt_as_proposals and len(gt_bboxes) > 0:
            priors = torch.cat([gt_bboxes.to(priors.dtype), priors], dim=0)
            assign_result.add_gt_(gt_labels)
            gt_flags = torch.cat([priors.new_ones(gt_bboxes.shape[0], dtype=torch.uint8), gt_flags])
        pos_inds = self._choose(assign_result.gt_inds > 0, int(self.num * self.pos_fraction))
        pos_inds = pos_inds.unique()
        num_neg = self.num - pos_inds.numel()
        if self.neg_pos_ub >= 0:
            num_neg = min(num_neg, int(self.neg_pos_ub * max(1, pos_inds.numel())))
        neg_inds = self._choose(assign_result.gt_inds == 0, num_neg).unique()
        return SamplingResult(pos_inds, neg_inds, priors, gt_bboxes, assign_result, gt_flags)


def bbox2roi(boxes: Sequence[Tensor]) -> Tensor:
    """Per-clip boxes ``[(m_i, 4+)]`` -> RoIs ``(sum m_i, 5)`` ``[clip index, x1, y1, x2, y2]``."""
    rois = []
    for i, b in enumerate(boxes):
        index = b.new_full((b.shape[0], 1), i)
        rois.append(torch.cat([index, b[:, :4]], dim=-1))
    return torch.cat(rois, 0)


def bbox_targets(sampling_results: Sequence[SamplingResult], pos_weight: float = 1.0):
    """MMAction2's ``bbox_target``: ``(labels (K, num_classes), label_weights (K,))`` of the
    sampled RoIs in ``bbox2roi`` order: each positive's matched labels, zeros for negatives."""
    pos_weight = 1.0 if pos_weight <= 0 else pos_weight
    labels, weights = [], []
    for res in sampling_results:
        pos_labels = res.pos_gt_labels
        num_pos, num_neg = pos_labels.shape[0], res.neg_inds.numel()
        labels.append(torch.nn.functional.pad(pos_labels, (0, 0, 0, num_neg)))
        weight = res.priors_all.new_zeros(num_pos + num_neg)
        weight[:num_pos] = pos_weight
        weight[-num_neg:] = 1.0  # as MMAction2: with no negatives, [-0:] is every RoI
        weights.append(weight)
    return torch.cat(labels, 0), torch.cat(weights, 0)
