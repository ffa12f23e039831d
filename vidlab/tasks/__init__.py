"""Tasks: what differs between recognition, skeleton recognition, detection and localization.

The engine's loop and evaluation are written once; a :class:`~vidlab.tasks.base.Task` supplies
the per-task parts (batch -> inputs and targets, loss, test-time predictions, default metrics,
prediction records). :class:`~vidlab.tasks.recognition.RecognitionTask` is the first.

How a config selects its task: an optional top-level ``task`` key, resolved like any other
``type`` (a short name of :data:`vidlab.config.names.NAMES`, ``'pkg.mod:Class'``, or a class)::

    task = 'RecognitionTask'                        # a name or class: built without arguments
    task = dict(type='RecognitionTask')             # a node: built with its arguments
    task = MyTask()                                 # (Python) an object with the methods

Without ``task`` (every MMAction2 config), the task is recognition. A new task is a module
here, a class with the :class:`~vidlab.tasks.base.Task` methods, and a line in ``NAMES``; where
MMAction2 configs of that task must run unchanged (they have no ``task`` key), :func:`build_task`
is the one place to infer it, e.g. from the model's type.
"""

from __future__ import annotations

from typing import Any

from vidlab.tasks.base import Task
from vidlab.tasks.recognition import RecognitionTask

__all__ = ["RecognitionTask", "Task", "build_task"]

# model types whose configs are spatio-temporal detection (MMAction2's configs/detection write
# type='FastRCNN', _scope_='mmdet'): DetectionTask, given the config's test_evaluator (else
# val_evaluator) node for `--metrics mAP`
_DETECTORS = ("FastRCNN", "mmdet.FastRCNN")
# model types whose configs are temporal localization (MMAction2's configs/localization)
_LOCALIZERS = ("BMN", "TEM", "PEM", "TCANet")


def build_task(cfg: Any) -> Task:
    """The task a config asks for with its ``task`` key; without one, localization for a
    localizer model (``BMN``, ``TEM``, ``PEM``, ``TCANet``), else :class:`RecognitionTask`.

    Raises:
        ConfigError: ``task`` names an unknown type (the message names the key).
    """
    node = cfg.get("task") if isinstance(cfg, dict) else getattr(cfg, "task", None)
    if node is None:
        model = cfg.get("model") if isinstance(cfg, dict) else getattr(cfg, "model", None)
        model_type = model.get("type") if isinstance(model, dict) else None
        if model_type in _DETECTORS:  # MMAction2's detection configs have no task key either
            from vidlab.tasks.detection import DetectionTask

            return DetectionTask(evaluator=_evaluator_node(cfg))
        if model_type in _LOCALIZERS:  # MMAction2's localization configs have no task key
            from vidlab.tasks.localization import LocalizationTask

            return LocalizationTask()
        return RecognitionTask()
    if isinstance(node, dict):
        from vidlab.config import build

        return build(node, key_path="task")
    if isinstance(node, str) or isinstance(node, type):
        from vidlab.config import resolve_type

        return resolve_type(node, key_path="task")()
    return node  # an object with the Task methods


def _evaluator_node(cfg: Any) -> Any:
    """The config's test (else val) evaluator node: one dict, or the first of a list."""
    for key in ("test_evaluator", "val_evaluator"):
        node = cfg.get(key) if isinstance(cfg, dict) else getattr(cfg, key, None)
        if isinstance(node, (list, tuple)):
            node = node[0] if node else None
        if node is not None:
            return node
    return None
