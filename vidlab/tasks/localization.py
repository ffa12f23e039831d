"""Temporal action localization: snippet features of an untrimmed video in, scored segments out.

A batch (``vidlab.data.localization``) is ``{"inputs": (B, C, T), "gt_instances": [dict] * B,
"meta": [dict] * B, "index": (B,)}``. The model (``BMN``; BSN's ``TEM`` and ``PEM``) provides
``forward(x)``, ``loss(outputs, gt_instances) -> {name: term}`` and ``results(outputs,
gt_instances, metas) -> [dict]`` per video: ``video_name`` and either ``proposals`` ``(p, 3)``
``[start_s, end_s, score]`` or (``TEM``) ``tem`` ``(T, 5)`` rows. A model that reads one of
the targets instead of ``inputs`` names it in ``input_key`` (``PEM``: ``'bsp_feature'``, the
proposals of all videos of a batch concatenated).

Evaluation works per video (as MMAction2's ``predict``, which sees one video at a time: a
batched conv may differ in the last bit and reorder soft-NMS ties). ``ANetMetric``
(``vidlab.evaluation.anet``) computes AR@AN from the proposals and the ground truth in seconds,
or writes TEM's rows.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from vidlab.tasks.base import Task

__all__ = ["LocalizationTask", "LocalizationResult"]


class LocalizationResult(dict):
    """One video's prediction: ``video_name`` and ``proposals`` ``(p, 3)`` ``[start, end,
    score]`` in seconds, best first (or TEM's ``tem`` rows)."""


class LocalizationTask(Task):
    """Features in, temporal proposals out (MMAction2's ``BMN`` configs)."""

    name = "localization"
    default_evaluator = dict(type="ANetMetric", metric_type="AR@AN")

    def batch_size(self, batch) -> int:
        return len(batch["meta"]) if "meta" in batch and "inputs" in batch else 0

    def _inputs(self, model, batch, device, rows=slice(None)):
        key = getattr(model, "input_key", None)
        if key is None:
            return batch["inputs"][rows].to(device, non_blocking=True).float()  # (B, C, T)
        return torch.cat([g[key] for g in batch["gt_instances"][rows]]).to(device).float()

    def prepare(self, batch, device, *, model: nn.Module, memory_format=None):
        return self._inputs(model, batch, device), batch["gt_instances"]

    def loss(self, model: nn.Module, outputs, targets) -> torch.Tensor:
        return sum(self.loss_terms(model, outputs, targets).values())

    def loss_terms(self, model: nn.Module, outputs, targets) -> dict[str, torch.Tensor]:
        return dict(model.loss(outputs, targets))

    def predict(self, model: nn.Module, batch, device, max_views: int | None = None):
        metas, targets = batch["meta"], batch["gt_instances"]
        results = []
        for i in range(len(metas)):
            outputs = model(self._inputs(model, batch, device, slice(i, i + 1)))
            results += model.results(outputs, targets[i : i + 1], metas[i : i + 1])
        return [LocalizationResult(r) for r in results], [_ground_truth(m) for m in metas]

    def metric_evaluators(self, names):
        from vidlab.evaluation.anet import ANetMetric

        unknown = [n for n in names if n != "AR@AN"]
        if unknown:
            raise ValueError(f"localization metrics: {unknown} unknown; available: AR@AN")
        return [ANetMetric(metric_type="AR@AN")]

    def predictions(self, dataset, scores, labels, indices):
        records = []
        for result, index in zip(scores, indices):
            record = {"index": index, "video_name": result["video_name"]}
            if "proposals" in result:
                record["proposal_list"] = [
                    {"segment": [float(s), float(e)], "score": float(p)}
                    for s, e, p in result["proposals"]
                ]
            else:
                record["tem"] = np.asarray(result["tem"]).tolist()
            records.append(record)
        return records


def _ground_truth(meta: dict) -> np.ndarray:
    """``(g, 2)`` ground-truth segments in seconds from the video's ``annotations``."""
    segments = [a["segment"] for a in meta.get("annotations", [])]
    return np.array(segments, dtype=np.float64).reshape(-1, 2)
