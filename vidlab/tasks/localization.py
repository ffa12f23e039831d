"""Temporal action localization: snippet features of an untrimmed video in, scored segments out.

A batch (``vidlab.data.localization``) is ``{"inputs": (B, C, T), "gt_bbox": [(g, 2)] * B,
"meta": [dict] * B, "index": (B,)}``. The model (``vidlab.models.bmn.BMN``; BSN and TCANet
follow the same three methods) provides ``forward(inputs)``, ``loss(outputs, gt_bbox) ->
{'loss': ...}`` and ``proposals(outputs, metas) -> [[{'score', 'segment'}]]`` (seconds).

Evaluation works per video: :meth:`LocalizationTask.predict` returns, for each video, its
proposals as a ``(p, 3)`` array ``[start_s, end_s, score]`` and its ground truth as a ``(g, 2)``
array in seconds, and ``ANetMetric`` (``vidlab.evaluation.anet``) computes AR@AN from them.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from vidlab.tasks.base import Task

__all__ = ["LocalizationTask", "LocalizationResult"]


class LocalizationResult(dict):
    """One video's prediction: ``video_name``, ``proposals`` ``(p, 3)`` ``[start, end, score]``
    in seconds, best first."""


class LocalizationTask(Task):
    """Features in, temporal proposals out (MMAction2's ``BMN`` configs)."""

    name = "localization"
    default_evaluator = dict(type="ANetMetric", metric_type="AR@AN")

    def batch_size(self, batch) -> int:
        return len(batch["inputs"]) if "inputs" in batch else 0

    def prepare(self, batch, device, *, model: nn.Module, memory_format=None):
        inputs = batch["inputs"].to(device, non_blocking=True).float()  # (B, C, T)
        return inputs, batch["gt_bbox"]

    def loss(self, model: nn.Module, outputs, targets) -> torch.Tensor:
        return sum(self.loss_terms(model, outputs, targets).values())

    def loss_terms(self, model: nn.Module, outputs, targets) -> dict[str, torch.Tensor]:
        return dict(model.loss(outputs, targets))

    def predict(self, model: nn.Module, batch, device, max_views: int | None = None):
        inputs = batch["inputs"].to(device, non_blocking=True).float()
        metas = batch["meta"]
        # one video at a time: MMAction2's predict sees one, and a batched conv may differ
        # from it in the last bit, which can reorder soft-NMS ties
        results = []
        for i in range(len(inputs)):
            outputs = model(inputs[i : i + 1])
            listed = model.proposals(outputs, [metas[i]])[0]
            props = np.array(
                [[p["segment"][0], p["segment"][1], p["score"]] for p in listed], dtype=np.float64
            ).reshape(-1, 3)
            results.append(
                LocalizationResult(video_name=metas[i].get("video_name"), proposals=props)
            )
        truths = [_ground_truth(m) for m in metas]
        return results, truths

    def metric_evaluators(self, names):
        from vidlab.evaluation.anet import ANetMetric

        unknown = [n for n in names if n != "AR@AN"]
        if unknown:
            raise ValueError(f"localization metrics: {unknown} unknown; available: AR@AN")
        return [ANetMetric(metric_type="AR@AN")]

    def predictions(self, dataset, scores, labels, indices):
        return [
            {
                "index": index,
                "video_name": result["video_name"],
                "proposal_list": [
                    {"segment": [float(s), float(e)], "score": float(p)}
                    for s, e, p in result["proposals"]
                ],
            }
            for result, index in zip(scores, indices)
        ]


def _ground_truth(meta: dict) -> np.ndarray:
    """``(g, 2)`` ground-truth segments in seconds from the video's ``annotations``."""
    segments = [a["segment"] for a in meta.get("annotations", [])]
    return np.array(segments, dtype=np.float64).reshape(-1, 2)
