"""The spatio-temporal action detector of MMAction2's AVA configs: ``FastRCNN`` (MMDetection's
two-stage detector without a region proposal network: person boxes come from a proposals
file) with MMAction2's ``AVARoIHead``.

A clip ``(N, C, T, H, W)`` goes through the backbone (SlowOnly, SlowFast: a pair of pathways,
or ViT with ``return_feat_map``); each person box becomes a RoI ``[clip index, x1, y1, x2, y2]``
(pixels of the transformed frame); ``SingleRoIExtractor3D`` pools its features, an optional
shared head (``ACRNHead``, ``FBOHead``, ``LFBInferHead``) mixes in context, and
``BBoxHeadAVA`` scores its actions. In training, the RoIs are the ground-truth boxes and
proposals drawn by ``MaxIoUAssignerAVA`` + ``RandomSampler`` (``train_cfg.rcnn``).

Model input (see ``vidlab.tasks.detection``)::

    {"clips": (N, C, T, H, W) raw pixels, "proposals": [(m_i, 4)] * N,
     "gt_instances": [{"bboxes": (n_i, 4), "labels": (n_i, num_classes)}] * N or None,
     "meta": [dict] * N (optional; the feature-bank heads read its "img_key")}

State-dict keys are MMAction2's (``backbone.*``, ``roi_head.bbox_head.fc_cls.*``,
``roi_head.shared_head.*``), so its AVA checkpoints load with no key map.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn as nn
from torch import Tensor

from vidlab.models._checks import built
from vidlab.models.det_assign import (
    MaxIoUAssignerAVA,
    RandomSampler,
    SamplingResult,
    bbox2roi,
    bbox_targets,
)
from vidlab.models.preprocess import ActionDataPreprocessor

__all__ = ["AVARoIHead", "FastRCNN"]


# The types train_cfg.rcnn may name (MMAction2's configs: these two). train_cfg is passed
# unbuilt, as MMDetection passes it; the parts are built here from this table.
_PARTS = {"MaxIoUAssignerAVA": MaxIoUAssignerAVA, "RandomSampler": RandomSampler}


def _build_part(spec: Any, default_type: type, what: str):
    """An assigner/sampler from its ``train_cfg`` dict (or an object already built)."""
    if spec is None or not isinstance(spec, Mapping):
        return spec
    spec = dict(spec)
    spec.pop("_scope_", None)
    kind = spec.pop("type", default_type)
    if isinstance(kind, str):
        name = kind.rsplit(".", 1)[-1]  # 'mmdet.RandomSampler' -> 'RandomSampler'
        if name not in _PARTS:
            raise ValueError(f"{what}.type={kind!r}; expected one of {sorted(_PARTS)}")
        kind = _PARTS[name]
    return kind(**spec)


def _rcnn(cfg: Any) -> Any:
    """``cfg.rcnn`` of a detector-level ``train_cfg``/``test_cfg`` (or ``cfg`` itself)."""
    if isinstance(cfg, Mapping) and "rcnn" in cfg:
        return cfg["rcnn"]
    return cfg


class AVARoIHead(nn.Module):
    """MMAction2's ``AVARoIHead``: RoI features -> shared head -> per-box action logits.

    Args:
        bbox_roi_extractor: A built ``SingleRoIExtractor3D``.
        bbox_head: A built ``BBoxHeadAVA``.
        shared_head: Optional module called as ``shared_head(roi_feats, feat=global_feat,
            rois=rois, img_metas=metas)`` (``ACRNHead``, ``FBOHead``, ``LFBInferHead``).
        train_cfg: ``dict(assigner=..., sampler=..., pos_weight=...)`` (the detector's
            ``train_cfg.rcnn``; ``FastRCNN`` passes it on, as MMDetection does).
        test_cfg: The detector's ``test_cfg.rcnn``: ``dict(action_thr=...)`` or None.
        mask_roi_extractor, mask_head: MMDetection's; only None (no masks in AVA).
        init_cfg: Accepted for MMDetection compatibility.
    """

    _lazy_args = ("train_cfg", "test_cfg")

    def __init__(
        self,
        bbox_roi_extractor: nn.Module | None = None,
        bbox_head: nn.Module | None = None,
        mask_roi_extractor: Any = None,
        mask_head: Any = None,
        shared_head: nn.Module | None = None,
        train_cfg: dict | None = None,
        test_cfg: dict | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        if mask_roi_extractor is not None or mask_head is not None:
            raise ValueError("AVARoIHead: mask heads are not supported (AVA has no masks)")
        if bbox_roi_extractor is None or bbox_head is None:
            raise ValueError("AVARoIHead needs bbox_roi_extractor and bbox_head")
        self.bbox_roi_extractor = built(bbox_roi_extractor, "AVARoIHead(bbox_roi_extractor=...)")
        self.bbox_head = built(bbox_head, "AVARoIHead(bbox_head=...)")
        if shared_head is not None:
            self.shared_head = built(shared_head, "AVARoIHead(shared_head=...)")
        self.init_cfg = init_cfg
        for m in (self.bbox_head, getattr(self, "shared_head", None)):
            if m is not None and hasattr(m, "init_weights"):
                m.init_weights()
        self.bbox_assigner = self.bbox_sampler = None
        self.init_assigner_sampler(train_cfg)
        self.test_cfg = test_cfg

    @property
    def with_shared_head(self) -> bool:
        return hasattr(self, "shared_head")

    def init_assigner_sampler(self, train_cfg: dict | None) -> None:
        """Build the assigner and sampler of ``train_cfg`` (MMDetection's method name)."""
        self.train_cfg = train_cfg
        if train_cfg:
            self.bbox_assigner = _build_part(
                train_cfg.get("assigner"), MaxIoUAssignerAVA, "train_cfg.rcnn.assigner"
            )
            self.bbox_sampler = _build_part(
                train_cfg.get("sampler"), RandomSampler, "train_cfg.rcnn.sampler"
            )

    def forward_rois(
        self, x: Tensor | Sequence[Tensor], rois: Tensor, metas: Sequence[dict] | None = None
    ) -> Tensor:
        """Backbone features and ``rois (K, 5)`` -> logits ``(K, num_classes)``
        (MMAction2's ``_bbox_forward``)."""
        if isinstance(x, list):
            x = tuple(x)
        bbox_feats, global_feat = self.bbox_roi_extractor(x, rois)  # (K, C, T', s, s)
        if self.with_shared_head:
            bbox_feats = self.shared_head(bbox_feats, feat=global_feat, rois=rois, img_metas=metas)
        return self.bbox_head(bbox_feats)

    def sample(
        self, proposals: Sequence[Tensor], gt_instances: Sequence[Mapping]
    ) -> list[SamplingResult]:
        """Assign each clip's proposals to its ground truth and draw the training RoIs."""
        if self.bbox_assigner is None or self.bbox_sampler is None:
            raise ValueError(
                "training the detector needs train_cfg.rcnn with an assigner and a sampler"
            )
        results = []
        for boxes, gt in zip(proposals, gt_instances):
            gt_bboxes = gt["bboxes"].to(boxes.device, boxes.dtype)
            gt_labels = gt["labels"].to(boxes.device)
            assigned = self.bbox_assigner.assign(boxes[:, :4], gt_bboxes, gt_labels)
            results.append(self.bbox_sampler.sample(assigned, boxes, gt_bboxes, gt_labels))
        return results

    def forward_train(self, x, proposals, gt_instances, metas=None) -> dict[str, Any]:
        """Sampled RoIs, their logits and their multi-hot targets."""
        sampled = self.sample(proposals, gt_instances)
        rois = bbox2roi([res.priors for res in sampled])
        cls_score = self.forward_rois(x, rois, metas)
        pos_weight = (self.train_cfg or {}).get("pos_weight", 1.0)
        labels, label_weights = bbox_targets(sampled, pos_weight)
        return {
            "cls_score": cls_score,
            "rois": rois,
            "labels": labels,
            "label_weights": label_weights,
            "num_rois": [len(res.pos_inds) + len(res.neg_inds) for res in sampled],
        }

    def forward_test(self, x, proposals, metas=None) -> dict[str, Any]:
        """Logits of every proposal."""
        rois = bbox2roi([p[:, :4] for p in proposals])
        return {
            "cls_score": self.forward_rois(x, rois, metas),
            "rois": rois,
            "num_rois": [len(p) for p in proposals],
        }

    def loss(self, outputs: Mapping) -> dict[str, Tensor]:
        """``loss_action_cls`` and MMAction2's recall/precision logs."""
        return self.bbox_head.loss(outputs["cls_score"], outputs["labels"])

    def results(self, outputs: Mapping, metas: Sequence[Mapping]) -> list[dict]:
        """Per clip: boxes normalised to the original frame and per-class scores."""
        thr = None
        if isinstance(self.test_cfg, Mapping):
            thr = self.test_cfg.get("action_thr")
        out = []
        rois = outputs["rois"].detach().split(outputs["num_rois"], 0)
        scores = outputs["cls_score"].detach().float().split(outputs["num_rois"], 0)
        for r, s, meta in zip(rois, scores, metas):
            bboxes, probs = self.bbox_head.predict_boxes(r.float(), s, meta)
            if thr is not None:  # what AVAMetric's bbox2result keeps: scores above thr
                probs = torch.where(probs > thr, probs, torch.zeros_like(probs))
            video_id, timestamp = meta.get("video_id"), meta.get("timestamp")
            img_key = meta.get("img_key")
            if img_key is None and video_id is not None and timestamp is not None:
                img_key = f"{video_id},{int(timestamp):04d}"
            out.append(
                {
                    "video_id": video_id,
                    "timestamp": timestamp,
                    "img_key": img_key,
                    "bboxes": bboxes.cpu().float(),
                    "scores": probs.cpu().float(),
                }
            )
        return out


class FastRCNN(nn.Module):
    """MMDetection's ``FastRCNN`` as MMAction2's AVA configs use it (``_scope_='mmdet'``).

    Args:
        backbone: A built backbone returning feature maps ``(N, C, T, H, W)`` (or a tuple).
        roi_head: A built :class:`AVARoIHead`.
        train_cfg: ``dict(rcnn=dict(assigner=..., sampler=..., pos_weight=...))``.
        test_cfg: ``dict(rcnn=None)`` or ``dict(rcnn=dict(action_thr=...))``.
        neck: Optional built neck applied to the backbone's output.
        data_preprocessor: Normalization (MMAction2's ``ActionDataPreprocessor``); None:
            ``float()`` only.
        init_cfg: ``dict(type='Pretrained', checkpoint=...)``: a recognizer checkpoint whose
            ``backbone.*`` weights are loaded by :meth:`init_weights` (never when building).
    """

    _lazy_args = ("train_cfg", "test_cfg")

    def __init__(
        self,
        backbone: nn.Module,
        roi_head: nn.Module,
        train_cfg: dict | None = None,
        test_cfg: dict | None = None,
        neck: nn.Module | None = None,
        data_preprocessor: nn.Module | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        if data_preprocessor is None:
            data_preprocessor = ActionDataPreprocessor(format_shape="NCTHW")
        self.data_preprocessor = built(data_preprocessor, "FastRCNN(data_preprocessor=...)")
        self.backbone = built(backbone, "FastRCNN(backbone=...)")
        if neck is not None:
            self.neck = built(neck, "FastRCNN(neck=...)")
        self.roi_head = built(roi_head, "FastRCNN(roi_head=...)")
        self.train_cfg, self.test_cfg = train_cfg, test_cfg
        # MMDetection hands train_cfg.rcnn / test_cfg.rcnn to the RoI head it builds; here the
        # head is built first (children first), so they are handed over now
        if hasattr(self.roi_head, "init_assigner_sampler") and train_cfg is not None:
            self.roi_head.init_assigner_sampler(_rcnn(train_cfg))
        if test_cfg is not None:
            self.roi_head.test_cfg = _rcnn(test_cfg)
        self.init_cfg = init_cfg
        self.pretrained = None
        if isinstance(init_cfg, Mapping) and init_cfg.get("type") == "Pretrained":
            self.pretrained = init_cfg.get("checkpoint")

    def init_weights(self):
        """Load ``init_cfg``'s checkpoint into the backbone; returns the load report."""
        from vidlab.models.pretrained import load_pretrained

        if self.pretrained is None:
            return None
        return load_pretrained(self.backbone, self.pretrained)

    @property
    def num_classes(self) -> int:
        return self.roi_head.bbox_head.num_classes

    def extract_feat(self, clips: Tensor) -> Tensor | tuple[Tensor, ...]:
        """Raw clips ``(N, C, T, H, W)`` -> the backbone's feature map(s)."""
        x = self.backbone(self.data_preprocessor(clips))
        if hasattr(self, "neck"):
            x = self.neck(x)
        if isinstance(x, list):
            x = tuple(x)
        return x

    def forward_rois(self, clips: Tensor, rois: Tensor) -> Tensor:
        """Tensors only (for ``torch.compile`` and ONNX): clips and RoIs ``(K, 5)`` ->
        logits ``(K, num_classes)``.

        An ONNX trace fixes the number of clips and RoIs, and, with the adaptive RoIAlign grid
        of the AVA configs (``sampling_ratio=0``), the largest sample grid of the RoIs traced:
        trace with a whole-frame RoI so the graph fits every RoI inside the frame (a graph
        traced on small RoIs only gives wrong scores for larger ones).
        """
        return self.roi_head.forward_rois(self.extract_feat(clips), rois)

    def forward(
        self,
        *,
        clips: Tensor,
        proposals: Sequence[Tensor],
        gt_instances: Sequence[Mapping] | None = None,
        meta: Sequence[Mapping] | None = None,
    ) -> dict[str, Any]:
        """In training, samples RoIs against ``gt_instances`` and returns what :meth:`loss`
        needs; in eval mode, the logits of every proposal (for :meth:`results`).

        Keywords only: the input dict's items, ``model(**inputs)``, as the training loop and
        :class:`~vidlab.tasks.detection.DetectionTask` pass it.

        Args:
            clips: Raw clips ``(N, C, T, H, W)``.
            proposals: One ``(m, 4)`` box tensor per clip, in pixels of the clip's frames.
            gt_instances: Per clip ``{"bboxes", "labels"}`` (training only).
            meta: Per clip its metadata (``img_shape``, ...).
        """
        proposals = [p.to(clips.device).float() for p in proposals]
        if len(proposals) != clips.shape[0]:
            raise ValueError(f"{clips.shape[0]} clips but {len(proposals)} proposal lists")
        x = self.extract_feat(clips)
        if self.training:
            if gt_instances is None:
                raise ValueError(
                    "FastRCNN in training mode needs inputs['gt_instances'] (call .eval() "
                    "to score proposals)"
                )
            return self.roi_head.forward_train(x, proposals, gt_instances, meta)
        return self.roi_head.forward_test(x, proposals, meta)

    def loss(self, outputs: Mapping) -> dict[str, Tensor]:
        """``{"loss_action_cls": ..., "recall@thr=0.5": ..., ...}`` (MMAction2's names; only
        the ``loss*`` terms are losses, the rest are logs)."""
        return self.roi_head.loss(outputs)

    def results(self, outputs: Mapping, metas: Sequence[Mapping]) -> list[dict]:
        """Per clip ``{"video_id", "timestamp", "img_key", "bboxes" (k, 4) in [0, 1] of the
        original frame, "scores" (k, num_classes)}`` (float32 CPU tensors); scores at or
        below ``test_cfg.rcnn.action_thr`` are zeroed when it is set."""
        return self.roi_head.results(outputs, metas)
