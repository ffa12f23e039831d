"""The interface between the engine and a task.

The training loop (:mod:`vidlab.engine.loop`) and evaluation (:mod:`vidlab.engine.evaluate`)
are the same for every task; what differs lives in a :class:`Task`:

- what a batch holds and how it becomes the model's input (:meth:`Task.prepare`),
- the loss of the model's outputs (:meth:`Task.loss_terms`, summed by :meth:`Task.loss`),
- how a test batch becomes per-sample scores (:meth:`Task.predict`),
- which metrics evaluate them and how predictions are written (:attr:`Task.default_evaluator`,
  :meth:`Task.metric_evaluators`, :meth:`Task.predictions`).

The step, seen from the task::

    inputs, targets = task.prepare(batch, device, model=model)      # on the device
    with autocast:
        terms = task.loss_terms(model, model(inputs), targets)      # forward: the loop's
        loss = sum(terms.values())                                   # each term is logged
    ... backward, clip, optimizer step, EMA: the loop's ...

    with torch.no_grad(), autocast:                                  # evaluation
        scores, labels = task.predict(model, batch, device, max_views)   # (B, ...) each

Subclass :class:`Task` (it documents each method), or pass any object with these methods.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["Task"]


class Task:
    """Base class of tasks: the per-task parts of training and evaluation.

    Attributes:
        name: a short name shown in logs.
        default_evaluator: the evaluator config used when the config has no
            ``val_evaluator`` / ``test_evaluator``.
    """

    name = "task"
    default_evaluator: dict | None = None

    def batch_size(self, batch: Any) -> int:
        """Number of samples in a collated batch (0 when every sample was skipped)."""
        raise NotImplementedError

    def prepare(
        self, batch: Any, device: torch.device, *, model: nn.Module, memory_format=None
    ) -> tuple[Any, Any]:
        """A training batch -> ``(inputs, targets)`` on ``device``.

        Args:
            batch: what the train loader yields.
            device: where the model is.
            model: the unwrapped model (for its batch augmentations, e.g. blending).
            memory_format: ``torch.channels_last_3d`` when the config asks for it, else None.

        Returns:
            ``inputs``, passed to ``model(inputs)``, whose first dimension counts the samples
            the model sees (or a dict of such tensors, one per modality, passed as
            ``model(**inputs)``); and ``targets``, passed to :meth:`loss`.
        """
        raise NotImplementedError

    def loss(self, model: nn.Module, outputs: Any, targets: Any) -> torch.Tensor:
        """The scalar training loss of ``outputs = model(inputs)`` (the unwrapped model)."""
        raise NotImplementedError

    def loss_terms(self, model: nn.Module, outputs: Any, targets: Any) -> dict[str, torch.Tensor]:
        """The named terms whose sum is :meth:`loss` (MMAction2's loss dict, e.g. ``loss_cls``
        and TPN's ``loss_aux``); the loop steps on their sum and logs each when there are
        several. A task with one term need not have it."""
        return {"loss": self.loss(model, outputs, targets)}

    def predict(
        self, model: nn.Module, batch: Any, device: torch.device, max_views: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """A test batch -> ``(scores, labels)``, one row per sample of the batch.

        Runs under ``torch.no_grad`` and, when asked for, autocast. ``max_views`` bounds how
        many inputs go through the model at once (``model.test_cfg.max_testing_views``).
        """
        raise NotImplementedError

    def metric_evaluators(self, names: list[str]) -> list:
        """Evaluators computing the metrics ``names`` (``vidlab test --metrics``)."""
        raise NotImplementedError

    def predictions(self, dataset, scores, labels, indices: list[int]) -> list[dict]:
        """Per-sample records written by ``vidlab test --out``.

        The default: the dataset index, the label and the scores.
        """
        return [
            {"index": index, "label": labels[row].tolist(), "scores": scores[row].tolist()}
            for row, index in enumerate(indices)
        ]
