"""Spatio-temporal action detection heads: MMAction2's ``SingleRoIExtractor3D`` and
``BBoxHeadAVA`` (same arguments and state-dict keys), on vidlab's plain-PyTorch RoIAlign.

``SingleRoIExtractor3D`` pools a clip's feature maps ``(N, C, T, H, W)`` over time (or keeps
each time step), then RoIAligns every person box ``[batch_index, x1, y1, x2, y2]`` (image
pixels): ``(K, C, T', out, out)``, plus the whole frame's pooled map when ``with_global``.
``BBoxHeadAVA`` pools those over time and space and classifies each box: multi-label sigmoid
scores (AVA: 80 actions + a first "background" column), a focal-weighted loss, and MMAction2's
recall/precision logs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from vidlab.models.layers.roi_align import RoIAlign, RoIPool

__all__ = ["BBoxHeadAVA", "SingleRoIExtractor3D"]


class SingleRoIExtractor3D(nn.Module):
    """RoI features of person boxes from 3D feature maps (MMAction2's).

    Args:
        roi_layer_type: ``'RoIAlign'`` or ``'RoIPool'``.
        featmap_stride: Image pixels per feature-map cell (``spatial_scale = 1 / stride``).
        output_size: Side of each RoI's output.
        sampling_ratio: RoIAlign's samples per bin side (0: adaptive).
        pool_mode: RoIAlign's ``'avg'`` or ``'max'``.
        aligned: RoIAlign's half-pixel offset.
        with_temporal_pool: Pool over time first (to ``T' = 1``).
        temporal_pool_mode: ``'avg'`` or ``'max'``.
        with_global: Append the frame's own adaptively pooled map to each RoI's channels.
    """

    def __init__(
        self,
        roi_layer_type: str = "RoIAlign",
        featmap_stride: int = 16,
        output_size: int = 16,
        sampling_ratio: int = 0,
        pool_mode: str = "avg",
        aligned: bool = True,
        with_temporal_pool: bool = True,
        temporal_pool_mode: str = "avg",
        with_global: bool = False,
    ) -> None:
        super().__init__()
        if roi_layer_type not in ("RoIAlign", "RoIPool"):
            raise ValueError(f"roi_layer_type={roi_layer_type!r}; expected 'RoIAlign' or 'RoIPool'")
        if temporal_pool_mode not in ("avg", "max"):
            raise ValueError(f"temporal_pool_mode={temporal_pool_mode!r}; expected 'avg' or 'max'")
        self.roi_layer_type = roi_layer_type
        self.featmap_stride = featmap_stride
        self.spatial_scale = 1.0 / featmap_stride
        self.output_size = output_size
        self.sampling_ratio = sampling_ratio
        self.pool_mode = pool_mode
        self.aligned = aligned
        self.with_temporal_pool = with_temporal_pool
        self.temporal_pool_mode = temporal_pool_mode
        self.with_global = with_global
        if roi_layer_type == "RoIPool":
            self.roi_layer = RoIPool(output_size, self.spatial_scale)
        else:
            self.roi_layer = RoIAlign(
                output_size, self.spatial_scale, sampling_ratio, pool_mode, aligned
            )
        self.global_pool = nn.AdaptiveAvgPool2d(output_size)

    def forward(self, feat: Tensor | Sequence[Tensor], rois: Tensor) -> tuple[Tensor, Tensor]:
        """``feat`` ``(N, C, T, H, W)`` (or several, e.g. SlowFast's pathways: resized to the
        longest ``T`` by nearest interpolation and concatenated), ``rois (K, 5)`` ->
        ``(roi_feats (K, C', T', out, out), the pooled maps (N, C', T', H, W))``."""
        feats = list(feat) if isinstance(feat, (tuple, list)) else [feat]
        if len(feats) >= 2:
            size = (max(x.shape[2] for x in feats), *feats[0].shape[3:])
            feats = [F.interpolate(x, size).contiguous() for x in feats]
        if self.with_temporal_pool:
            if self.temporal_pool_mode == "avg":
                feats = [x.mean(2, keepdim=True) for x in feats]
            else:
                feats = [x.amax(2, keepdim=True) for x in feats]
        maps = torch.cat(feats, dim=1).contiguous()  # (N, C', T', H, W)
        out = []
        for t in range(maps.shape[2]):
            frame = maps[:, :, t].contiguous()  # (N, C', H, W)
            roi_feat = self.roi_layer(frame, rois)  # (K, C', out, out)
            if self.with_global:
                context = self.global_pool(frame)[rois[:, 0].long()]
                roi_feat = torch.cat([roi_feat, context], dim=1)
            out.append(roi_feat)
        return torch.stack(out, dim=2), maps


class BBoxHeadAVA(nn.Module):
    """MMAction2's ``BBoxHeadAVA``: per-box action scores.

    Args:
        background_class: The first of ``num_classes`` columns is "a person" (ignored by the
            loss and the metrics), as in MMAction2's AVA configs.
        temporal_pool_type, spatial_pool_type: ``'avg'`` or ``'max'``.
        in_channels: Channels of the RoI features.
        focal_gamma, focal_alpha: Focal weighting of the loss (gamma 0: plain).
        num_classes: Columns of the classifier (AVA: 81).
        dropout_ratio: Dropout, ``dropout_before_pool`` or after.
        dropout_before_pool: Where the dropout is.
        topk: The k of the ``recall@topk`` / ``prec@topk`` logs.
        multilabel: Sigmoid scores and binary cross-entropy (else softmax).
        mlp_head: Two linear layers instead of one.
    """

    def __init__(
        self,
        background_class: bool,
        temporal_pool_type: str = "avg",
        spatial_pool_type: str = "max",
        in_channels: int = 2048,
        focal_gamma: float = 0.0,
        focal_alpha: float = 1.0,
        num_classes: int = 81,
        dropout_ratio: float = 0,
        dropout_before_pool: bool = True,
        topk: int | Sequence[int] | None = (3, 5),
        multilabel: bool = True,
        mlp_head: bool = False,
    ) -> None:
        super().__init__()
        for name, value in (("temporal", temporal_pool_type), ("spatial", spatial_pool_type)):
            if value not in ("avg", "max"):
                raise ValueError(f"{name}_pool_type={value!r}; expected 'avg' or 'max'")
        self.temporal_pool_type = temporal_pool_type
        self.spatial_pool_type = spatial_pool_type
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.dropout_ratio = dropout_ratio
        self.dropout_before_pool = dropout_before_pool
        self.multilabel = multilabel
        self.focal_gamma = focal_gamma
        self.focal_alpha = focal_alpha
        self.background_class = background_class
        if topk is None:
            self.topk = ()
        elif isinstance(topk, int):
            self.topk = (topk,)
        else:
            self.topk = tuple(int(k) for k in topk)
        if any(k >= num_classes for k in self.topk):
            raise ValueError(f"topk {self.topk} must be below num_classes={num_classes}")
        pool = nn.AdaptiveAvgPool3d if temporal_pool_type == "avg" else nn.AdaptiveMaxPool3d
        self.temporal_pool = pool((1, None, None))
        pool = nn.AdaptiveAvgPool3d if spatial_pool_type == "avg" else nn.AdaptiveMaxPool3d
        self.spatial_pool = pool((None, 1, 1))
        if dropout_ratio > 0:
            self.dropout = nn.Dropout(dropout_ratio)
        if mlp_head:
            self.fc_cls = nn.Sequential(
                nn.Linear(in_channels, in_channels), nn.ReLU(), nn.Linear(in_channels, num_classes)
            )
        else:
            self.fc_cls = nn.Linear(in_channels, num_classes)

    def init_weights(self) -> None:
        """Xavier-normal weights and zero biases, as MMAction2."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_normal_(m.weight)
                nn.init.constant_(m.bias, 0)

    def forward(self, x: Tensor) -> Tensor:
        """``(K, C, T, H, W)`` RoI features -> ``(K, num_classes)`` logits."""
        if self.dropout_before_pool and self.dropout_ratio > 0:
            x = self.dropout(x)
        x = self.spatial_pool(self.temporal_pool(x))
        if not self.dropout_before_pool and self.dropout_ratio > 0:
            x = self.dropout(x)
        return self.fc_cls(x.view(x.size(0), -1))

    @staticmethod
    def _recall_prec(pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
        correct = pred & target
        recall = correct.sum(1) / target.sum(1).float()
        prec = correct.sum(1) / (pred.sum(1) + 1e-6)
        return recall.mean(), prec.mean()

    @staticmethod
    def _topk_matrix(probs: Tensor, k: int) -> Tensor:
        top = probs.topk(k, 1, True, True)[1]
        return torch.zeros_like(probs, dtype=torch.bool).scatter_(1, top, True)

    def topk_accuracy(self, pred: Tensor, target: Tensor, thr: float = 0.5):
        """MMAction2's logs: recall and precision at ``thr`` and at each top-k."""
        target = target > 0.5
        pred = pred.sigmoid() if self.multilabel else pred.softmax(dim=1)
        chosen = pred > thr if self.multilabel else self._topk_matrix(pred, 1)
        recall_thr, prec_thr = self._recall_prec(chosen, target)
        pairs = [self._recall_prec(self._topk_matrix(pred, k), target) for k in self.topk]
        return recall_thr, prec_thr, [r for r, _ in pairs], [p for _, p in pairs]

    def loss(self, cls_score: Tensor, labels: Tensor) -> dict[str, Tensor]:
        """The loss and logs of sampled boxes' scores against their multi-hot ``labels``
        ``(K, num_classes)`` (negatives: all zero), as MMAction2's ``loss_and_target``."""
        if self.background_class:
            labels, cls_score = labels[:, 1:], cls_score[:, 1:]
        positive = labels.sum(dim=-1) > 0
        cls_score, labels = cls_score[positive], labels[positive]
        recall_thr, prec_thr, recall_k, prec_k = self.topk_accuracy(cls_score, labels, thr=0.5)
        out = {"recall@thr=0.5": recall_thr, "prec@thr=0.5": prec_thr}
        for k, r, p in zip(self.topk, recall_k, prec_k):
            out[f"recall@top{k}"], out[f"prec@top{k}"] = r, p
        if not self.multilabel and self.background_class:
            labels = labels / labels.sum(dim=1, keepdim=True)
        if self.multilabel:
            loss = F.binary_cross_entropy_with_logits(cls_score, labels, reduction="none")
        else:
            loss = F.cross_entropy(cls_score, labels, reduction="none")
        pt = torch.exp(-loss)
        out["loss_action_cls"] = torch.mean(self.focal_alpha * (1 - pt) ** self.focal_gamma * loss)
        return out

    def predict_boxes(self, rois: Tensor, cls_score: Tensor | Sequence[Tensor], img_meta: dict):
        """One image's boxes back in the original frame (0..1) and their scores.

        Undoes the flip and the crop recorded in ``img_meta`` (``flip``, ``img_shape``,
        ``crop_quadruple`` ``[x, y, w, h]`` of the crop in the original, relative).

        Returns:
            ``(bboxes (K, 4) relative xyxy, scores (K, num_classes))``.
        """
        if isinstance(cls_score, (list, tuple)):
            cls_score = sum(cls_score) / float(len(cls_score))
        scores = cls_score.sigmoid() if self.multilabel else cls_score.softmax(dim=-1)
        boxes = rois[:, 1:].clone()
        img_h, img_w = img_meta["img_shape"]
        if img_meta.get("flip", False):
            flipped = boxes.clone()
            flipped[:, 0] = img_w - 1 - boxes[:, 2]
            flipped[:, 2] = img_w - 1 - boxes[:, 0]
            boxes = flipped
        boxes[:, 0::2] /= img_w
        boxes[:, 1::2] /= img_h
        x1, y1, tw, th = img_meta.get("crop_quadruple", np.array([0, 0, 1, 1]))
        out = boxes.clone()
        out[:, 0::2] = boxes[:, 0::2] * tw + x1
        out[:, 1::2] = boxes[:, 1::2] * th + y1
        return out, scores
