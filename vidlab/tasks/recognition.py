"""Action recognition from RGB clips: one label (or a multi-label vector) per video."""

from __future__ import annotations

import torch
from torch import nn

from vidlab.tasks.base import Task

__all__ = ["RecognitionTask"]


class RecognitionTask(Task):
    """Clips in, class scores out; several views of a video are averaged.

    A batch is ``{"clips": uint8 (B, V, C, T, H, W), "label": (B,) or (B, K), "index": (B,)}``
    (or images ``(B, C, H, W)`` from ``PackClsInputs``, trained as they are).
    Every view is a training sample; at test time ``model.average_views`` turns the logits of
    the ``V`` views into one score vector per video. The model provides ``forward(clips) ->
    logits``, ``loss(logits, labels)``, ``average_views(logits, V)`` and, optionally,
    ``data_preprocessor.blending`` (mixup / cutmix).
    """

    name = "recognition"
    default_evaluator = dict(type="AccMetric")
    # Chunks the views of a batch (max_testing_views, a memory budget, out-of-memory back-off);
    # `vidlab test` sets one with a budget, else one is made per max_views.
    view_runner = None
    last_logits = None

    def batch_size(self, batch) -> int:
        return len(batch["clips"])

    def prepare(self, batch, device, *, model: nn.Module, memory_format=None):
        # uint8 crosses the bus; normalization happens on the device inside the model.
        clips = batch["clips"].to(device, non_blocking=True)  # (B, V, C, T, H, W)
        labels = batch["label"].to(device, non_blocking=True)  # (B,) or (B, K)
        if clips.dim() == 4:  # images (B, C, H, W): OmniSource's image loader ('MIX2d3d')
            return clips, labels
        b, v = clips.shape[:2]
        if memory_format is not None:
            clips = clips.flatten(0, 1).contiguous(memory_format=memory_format)
            clips = clips.unflatten(0, (b, v))
        blending = getattr(getattr(model, "data_preprocessor", None), "blending", None)
        if blending is not None:  # mixes whole videos: all views of a video get the same mix
            clips, labels = blending(clips.float(), labels)
        clips = clips.flatten(0, 1)  # (B*V, C, T, H, W): every view is a sample
        if v > 1:
            labels = labels.repeat_interleave(v, dim=0)  # (B*V,) or (B*V, K)
        return clips, labels

    def loss(self, model: nn.Module, outputs, targets) -> torch.Tensor:
        return sum(self.loss_terms(model, outputs, targets).values())

    def loss_terms(self, model: nn.Module, outputs, targets) -> dict[str, torch.Tensor]:
        loss = model.loss(outputs, targets)
        if isinstance(loss, dict):  # several terms (TPN: loss_cls, loss_aux); others are stats
            return {k: v for k, v in loss.items() if "loss" in k}
        return {"loss": loss}

    def predict(self, model: nn.Module, batch, device, max_views: int | None = None):
        from vidlab.engine.views import ViewRunner

        clips = batch["clips"].to(device, non_blocking=True)  # (B, V, C, T, H, W)
        b, v = clips.shape[:2]
        flat = clips.flatten(0, 1)  # (B*V, C, T, H, W)
        runner = self.view_runner
        if runner is None or runner.max_views != max_views:
            runner = self.view_runner = ViewRunner(max_views)
        logits = runner(model, flat).float()  # (B*V, K)
        self.last_logits = logits.reshape(b, v, -1)  # (B, V, K): for `vidlab test --dump`
        scores = model.average_views(logits, v)  # (B, K)
        return scores, batch["label"]

    def metric_evaluators(self, names):
        from vidlab.evaluation.metrics import AccMetric, ConfusionMatrix

        names = list(names)
        evaluators = [ConfusionMatrix()] if "confusion_matrix" in names else []
        names = [n for n in names if n != "confusion_matrix"]
        return ([AccMetric(metric_list=tuple(names))] if names else []) + evaluators

    def predictions(self, dataset, scores, labels, indices):
        records = getattr(dataset, "records", None)
        preds = []
        from vidlab.evaluation.metrics import rank_classes

        # The ranking top_k_accuracy uses: "pred" == "label" exactly when top-1 counts a hit.
        top = rank_classes(scores)[:, :5]
        for row, index in enumerate(indices):
            record = records[index] if records is not None and index >= 0 else {}
            label = labels[row]
            preds.append(
                {
                    "index": index,
                    "filename": record.get(
                        "filename", record.get("frame_dir", record.get("audio_path"))
                    ),
                    "label": label.tolist() if label.ndim else int(label),
                    "pred": int(top[row, 0]),
                    "top5_labels": top[row].tolist(),
                    "top5_scores": [float(scores[row, k]) for k in top[row]],
                }
            )
        return preds
