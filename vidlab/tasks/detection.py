"""Spatio-temporal action detection (AVA): a clip and its person boxes in, per-box action
scores out.

A batch (``PackActionInputs`` on a detection pipeline, collated by ``collate_skip_none``) is::

    {"inputs": (B, C, T, H, W) raw pixels, "proposals": [(m_i, 4)] * B (pixels),
     "gt_instances": [{"bboxes": (n_i, 4), "labels": (n_i, num_classes)}] * B,
     "meta": [dict] * B (video_id, timestamp, img_key, img_shape, flip, crop_quadruple, ...),
     "index": (B,)}

The model (``FastRCNN``, ``vidlab.models.fast_rcnn``) takes ``{"clips", "proposals",
"gt_instances", "meta"}``; in training it samples RoIs against the ground truth and
``model.loss(outputs)`` gives MMAction2's ``loss_action_cls`` and its recall/precision logs
(only the ``loss*`` terms are summed into the loss; the logs are kept in
:attr:`DetectionTask.last_logs`). At test time ``model.results(outputs, metas)`` gives, per
clip, ``{"video_id", "timestamp", "img_key", "bboxes" (k, 4) in [0, 1] of the original frame,
"scores" (k, num_classes)}``, which ``AVAMetric`` turns into frame mAP.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from vidlab.tasks.base import Task

__all__ = ["DetectionInputs", "DetectionResult", "DetectionTask"]


class DetectionInputs(dict):
    """The detector's input dict; ``len()`` is its number of clips (what the training loop
    counts and logs as ``num_clips``), not its number of keys."""

    def __len__(self) -> int:
        return int(self["clips"].shape[0])


class DetectionResult(dict):
    """One clip's detections: ``video_id``, ``timestamp``, ``img_key``, ``bboxes`` ``(k, 4)``
    normalised x1y1x2y2, ``scores`` ``(k, num_classes)`` (float32 CPU tensors)."""


def _to(value: Any, device: torch.device) -> Any:
    if torch.is_tensor(value):
        return value.to(device, non_blocking=True)
    if isinstance(value, Mapping):
        return {k: _to(v, device) for k, v in value.items()}
    return value


class DetectionTask(Task):
    """Clips and person boxes in, per-box action scores out (MMAction2's AVA configs).

    Args:
        evaluator: The ``AVAMetric`` node (``val_evaluator`` / ``test_evaluator`` of the
            config) that ``vidlab test --metrics mAP`` builds with ``options=('mAP',)``: the
            metric reads its ground truth from ``ann_file`` and needs the label and exclusion
            files. :func:`vidlab.tasks.build_task` passes it.
    """

    name = "detection"
    default_evaluator = dict(type="AVAMetric")

    def __init__(self, evaluator: Mapping | None = None) -> None:
        self.evaluator = evaluator
        self.last_logs: dict[str, float] = {}

    def batch_size(self, batch) -> int:
        return len(batch["meta"]) if "meta" in batch and "inputs" in batch else 0

    def _inputs(self, batch, device, with_gt: bool) -> DetectionInputs:
        clips = batch["inputs"].to(device, non_blocking=True)  # (B, C, T, H, W)
        proposals = [_to(p, device).float() for p in batch["proposals"]]
        inputs = DetectionInputs(clips=clips, proposals=proposals, meta=list(batch["meta"]))
        gts = batch.get("gt_instances")
        inputs["gt_instances"] = [_to(g, device) for g in gts] if with_gt and gts else None
        return inputs

    def prepare(self, batch, device, *, model: nn.Module, memory_format=None):
        inputs = self._inputs(batch, device, with_gt=True)
        if memory_format is not None:
            inputs["clips"] = inputs["clips"].contiguous(memory_format=memory_format)
        return inputs, None

    def loss(self, model: nn.Module, outputs, targets) -> torch.Tensor:
        return sum(self.loss_terms(model, outputs, targets).values())

    def loss_terms(self, model: nn.Module, outputs, targets) -> dict[str, torch.Tensor]:
        """MMAction2's loss terms (keys containing ``loss``, as MMEngine sums them); the
        recall/precision logs go to :attr:`last_logs`."""
        out = dict(model.loss(outputs))
        self.last_logs = {k: float(v) for k, v in out.items() if "loss" not in k}
        return {k: v for k, v in out.items() if "loss" in k}

    def predict(self, model: nn.Module, batch, device, max_views: int | None = None):
        """Per clip: its :class:`DetectionResult` and its ground truth (``bboxes`` in pixels of
        the transformed frame and ``labels``, as packed; ``AVAMetric`` reads its own)."""
        inputs = self._inputs(batch, device, with_gt=False)
        outputs = model(**inputs)
        results = model.results(outputs, inputs["meta"])
        gts = batch.get("gt_instances") or [{} for _ in results]
        return [DetectionResult(r) for r in results], [dict(g) for g in gts]

    def metric_evaluators(self, names):
        unknown = [n for n in names if n != "mAP"]
        if unknown:
            raise ValueError(f"detection metrics: {unknown} unknown; available: mAP")
        if not isinstance(self.evaluator, Mapping):
            raise ValueError(
                "detection mAP needs the config's AVAMetric node (val_evaluator or "
                "test_evaluator: ann_file, label_file, exclude_file)"
            )
        from vidlab.config import build

        node = dict(self.evaluator)
        node["options"] = ("mAP",)
        return [build(node, key_path="test_evaluator")]

    def predictions(self, dataset, scores, labels, indices):
        """Per clip: the dataset index, ``img_key``, boxes and per-class scores as lists."""
        records = []
        for result, index in zip(scores, indices):
            records.append(
                {
                    "index": index,
                    "video_id": result.get("video_id"),
                    "timestamp": result.get("timestamp"),
                    "img_key": result.get("img_key"),
                    "bboxes": torch.as_tensor(result["bboxes"]).tolist(),
                    "scores": torch.as_tensor(result["scores"]).tolist(),
                }
            )
        return records
