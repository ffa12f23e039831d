"""Multi-modal recognition (RGBPoseConv3D): one input per modality, one score set per stream.

MMAction2's RGB + pose configs (``configs/skeleton/posec3d/rgbpose_conv3d/rgbpose_conv3d.py``)
pack two inputs, ``PackActionInputs(collect_keys=('imgs', 'heatmap_imgs'))``; a collated batch
holds them as ``batch["inputs"] = {"imgs": uint8 (B, V, 3, T, H, W), "heatmap_imgs": float
(B, V, K, T', h, w)}``. ``MMRecognizer3D(imgs=..., heatmap_imgs=...)`` returns ``{"rgb": logits,
"pose": logits}``, its loss is one term per stream (``rgb_loss_cls``, ``pose_loss_cls``, each
weighted by ``RGBPoseHead.loss_weights``), and at test time each stream's views are averaged by
``cls_head.average_clips``. A sample's scores are then ``{"rgb": (K,), "pose": (K,)}`` (MMAction2's
``pred_score`` dict), which ``AccMetric`` evaluates per stream and fused (``RGBPose_1:1``, ...).

The config needs no ``task`` key: :func:`vidlab.tasks.build_task` picks this task for an
``MMRecognizer3D`` model.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from vidlab.tasks.recognition import RecognitionTask

__all__ = ["MultiModalRecognitionTask"]


def _inputs(batch) -> Mapping[str, torch.Tensor]:
    inputs = batch.get("inputs")
    if not isinstance(inputs, Mapping):
        raise KeyError(
            "multi-modal recognition needs batch['inputs'] as a dict of tensors, one per modality; "
            "end the pipeline with PackActionInputs(collect_keys=('imgs', 'heatmap_imgs'))"
        )
    return inputs


class MultiModalRecognitionTask(RecognitionTask):
    """Recognition with a dict of inputs (keyword arguments of the model) and a dict of logits.

    The views of a sample (``V``, e.g. ``num_clips`` of ``MMUniformSampleFrames``) are laid out
    the same in every modality: view ``i`` of ``imgs`` and of ``heatmap_imgs`` come from one
    draw of frame indices.
    """

    name = "multimodal recognition"

    def batch_size(self, batch) -> int:
        return len(batch["label"])

    def prepare(self, batch, device, *, model: nn.Module, memory_format=None):
        inputs = {}
        views = None
        for name, x in _inputs(batch).items():
            x = x.to(device, non_blocking=True)  # (B, V, C, T, H, W): uint8 pixels, heatmaps
            views = x.shape[1]
            x = x.flatten(0, 1)  # (B*V, C, T, H, W): every view is a sample
            if memory_format is not None:
                x = x.contiguous(memory_format=memory_format)
            inputs[name] = x
        labels = batch["label"].to(device, non_blocking=True)  # (B,) or (B, K)
        if views is not None and views > 1:
            labels = labels.repeat_interleave(views, dim=0)  # (B*V,) or (B*V, K)
        return inputs, labels

    def loss_terms(self, model: nn.Module, outputs, targets) -> dict[str, torch.Tensor]:
        loss = model.loss(outputs, targets)  # {"rgb_loss_cls": .., "pose_loss_cls": ..}
        return {k: v for k, v in loss.items() if "loss" in k}

    def predict(self, model: nn.Module, batch, device, max_views: int | None = None):
        inputs = {k: x.to(device, non_blocking=True) for k, x in _inputs(batch).items()}
        b, v = next(iter(inputs.values())).shape[:2]
        flat = {k: x.flatten(0, 1) for k, x in inputs.items()}  # (B*V, C, T, H, W) each
        chunk = max_views or b * v
        parts = [
            model(**{k: x[i : i + chunk] for k, x in flat.items()}) for i in range(0, b * v, chunk)
        ]
        logits = {k: torch.cat([p[k] for p in parts]).float() for k in parts[0]}  # (B*V, K)
        self.last_logits = None  # per-view logits of several streams: not dumped
        scores = model.average_views(logits, v)  # {stream: (B, K)}
        per_sample = [{k: s[row].cpu() for k, s in scores.items()} for row in range(b)]
        return per_sample, batch["label"]

    def metric_evaluators(self, names):
        from vidlab.evaluation.metrics import AccMetric, ConfusionMatrix

        class FusedConfusionMatrix(ConfusionMatrix):
            """The confusion matrix of the streams' 1:1 fusion (:meth:`class_scores`)."""

            def compute(self, scores, labels):
                return super().compute(MultiModalRecognitionTask.class_scores(scores), labels)

        names = list(names)
        evaluators = [FusedConfusionMatrix()] if "confusion_matrix" in names else []
        names = [n for n in names if n != "confusion_matrix"]
        return ([AccMetric(metric_list=tuple(names))] if names else []) + evaluators

    @staticmethod
    def class_scores(scores) -> np.ndarray:
        """One ``(N, K)`` array of per-sample stream scores: their sum (MMAction2's
        ``RGBPose_1:1`` fusion for RGB + pose), for per-class accuracy and reports."""
        return sum(np.stack([np.asarray(s[k]) for s in scores]) for k in scores[0])

    def predictions(self, dataset, scores, labels, indices):
        """Per video: each stream's top-5 and those of the 1:1 fusion (``pred``, ``top5_*``)."""
        from vidlab.evaluation.metrics import rank_classes

        records = getattr(dataset, "records", None)
        fused = self.class_scores(scores) if len(indices) else None  # (N, K)
        preds = []
        for row, index in enumerate(indices):
            record = records[index] if records is not None and index >= 0 else {}
            top = rank_classes(fused[row : row + 1])[0, :5]
            label = labels[row]
            preds.append(
                {
                    "index": index,
                    "filename": record.get("filename", record.get("frame_dir")),
                    "label": label.tolist() if label.ndim else int(label),
                    "pred": int(top[0]),
                    "top5_labels": top.tolist(),
                    "top5_scores": [float(fused[row, k]) for k in top],
                    "stream_preds": {
                        k: int(rank_classes(np.asarray(s)[None])[0, 0])
                        for k, s in scores[row].items()
                    },
                }
            )
        return preds
