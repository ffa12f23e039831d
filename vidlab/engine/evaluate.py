"""Evaluation: the task's predictions over a loader, gathered in dataset order, and metrics.

:func:`evaluate` serves validation during training and :func:`vidlab.engine.train.test`; the
task (:mod:`vidlab.tasks`) turns each batch into per-sample scores, e.g. recognition averages
the views of a video.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vidlab.checkpoint import unwrap_model
from vidlab.engine.build import cfg_get
from vidlab.engine.loop import is_empty, oom_error, record_skipped

__all__ = ["compute_metrics", "evaluate", "format_metric", "max_views", "write_results"]


def max_views(cfg, model) -> int | None:
    """``max_testing_views`` of ``model.test_cfg``, else of the config's ``test_cfg``."""
    for holder in (getattr(unwrap_model(model), "test_cfg", None), cfg_get(cfg, "test_cfg")):
        if isinstance(holder, dict) and holder.get("max_testing_views"):
            return int(holder["max_testing_views"])
        value = getattr(holder, "max_testing_views", None)
        if value:
            return int(value)
    return None


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader,
    device,
    *,
    amp_dtype=None,
    max_testing_views: int | None = None,
    bad_samples: dict | None = None,
    task=None,
    progress=None,
    logits_out: list | None = None,
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """The task's predictions over a loader, gathered over processes in dataset order.

    For recognition (the default ``task``), each batch's clips ``(B, V, C, T, H, W)`` run as
    ``(B*V, ...)`` (in chunks of ``max_testing_views`` when given) and ``model.average_views``
    turns the logits into ``(B, K)`` scores. Samples skipped by the dataset
    (``on_error='skip'``) are added to ``bad_samples`` (path -> reason) when it is given.
    ``progress`` (e.g. a tqdm bar) gets ``update(batch size)`` after each batch. Given a list,
    ``logits_out`` receives each sample's raw per-view logits ``(V, K)`` in dataset order (the
    task's ``last_logits``).

    Returns:
        ``(scores (N, K), labels (N,) or (N, K), dataset indices (N,))``; for a task whose
        per-sample predictions are not tensors of one shape (localization's proposal lists),
        ``scores`` and ``labels`` are lists with one item per sample.
    """
    from vidlab.engine.distributed import gather_ordered

    if task is None:
        from vidlab.tasks import RecognitionTask

        task = RecognitionTask()
    device = torch.device(device)
    model = unwrap_model(model)
    was_training = model.training
    model.eval()
    local = []
    try:
        for batch in loader:
            if bad_samples is not None:
                record_skipped(bad_samples, batch, print)
            if is_empty(batch, task):
                continue
            b = task.batch_size(batch)
            try:
                with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                    scores, labels = task.predict(model, batch, device, max_testing_views)
            except torch.cuda.OutOfMemoryError as e:
                raise oom_error(b, "evaluation") from e
            indices = batch.get("index", torch.full((b,), -1))
            raw = getattr(task, "last_logits", None) if logits_out is not None else None
            for j in range(b):
                views = raw[j].cpu() if raw is not None else None
                local.append(
                    (int(indices[j]), _cpu(scores[j], float_=True), _cpu(labels[j]), views)
                )
            if progress is not None:
                progress.update(b)
    finally:
        model.train(was_training)
    results = gather_ordered(local, len(loader.dataset))
    if results and results[0][0] >= 0:  # dataset order, each index once (padding removed)
        results = sorted({r[0]: r for r in results}.values(), key=lambda r: r[0])
    if not results:
        raise RuntimeError("evaluation produced no results: the loader yielded no samples")
    if logits_out is not None:
        logits_out.extend(r[3] for r in results)
    return _stack([r[1] for r in results]), _stack([r[2] for r in results]), [r[0] for r in results]


def _cpu(x, float_: bool = False):
    if not torch.is_tensor(x):
        return x  # a task's per-sample object (localization: a video's proposals)
    return x.float().cpu() if float_ else x.cpu()


def _stack(items: list):
    """Tensors of one shape -> one array; anything else (per-sample objects) stays a list."""
    if all(torch.is_tensor(x) for x in items) and len({tuple(x.shape) for x in items}) == 1:
        return torch.stack(items).numpy()
    return items


def compute_metrics(evaluators, scores, labels) -> dict:
    """The metrics of every evaluator, merged in order."""
    metrics: dict = {}
    for ev in evaluators:
        metrics.update(ev.compute(scores, labels))
    return metrics


def format_metric(value) -> str:
    """A metric value for a log line: 4 decimals for a number, a matrix as its rows."""
    if isinstance(value, list):
        return "\n" + "\n".join(f"    {row}" for row in value)
    return f"{value:.4f}"


def write_results(path: Path, metrics: dict, predictions: list) -> None:
    """``{"metrics", "predictions"}`` to a ``.json``, ``.pkl`` or ``.yaml`` file."""
    payload = {"metrics": metrics, "predictions": predictions}
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".json":
        path.write_text(json.dumps(payload, indent=1))
    elif path.suffix in (".pkl", ".pickle"):
        with open(path, "wb") as f:
            pickle.dump(payload, f)
    else:
        import yaml

        path.write_text(yaml.safe_dump(payload, sort_keys=False))
