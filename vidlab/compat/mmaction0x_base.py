"""What the MMAction2 0.x upgrade modules share: the 0.x name tables, small helpers, and the
upgrader's state (the config being changed and the notes of every change).

:mod:`vidlab.compat.mmaction0x` is the entry point; :mod:`vidlab.compat.mmaction0x_data` and
:mod:`vidlab.compat.mmaction0x_train` hold the conversions. Like them, this module imports
nothing of ``vidlab.config``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ALIASES", "KWARG_RENAMES", "OLD_KEYS"]

# 0.x type names -> 1.x names (keys of vidlab.config.names.NAMES) or 'module:Name' targets.
ALIASES: dict[str, str] = {
    "TSMOptimizerConstructor": "TSMOptimWrapperConstructor",
    "DefaultOptimizerConstructor": "DefaultOptimWrapperConstructor",
    "TensorboardLoggerHook": "TensorboardVisBackend",
    "TextLoggerHook": "LoggerHook",
    "EpochBasedRunner": "EpochBasedTrainLoop",
    "LabelSmoothLoss": "CrossEntropyLoss",
    "BCELossWithLogitsLoss": "BCELossWithLogits",
}

# 0.x keyword names -> 1.x names, per 0.x section.
KWARG_RENAMES: dict[str, dict[str, str]] = {
    "data": {"videos_per_gpu": "batch_size", "workers_per_gpu": "num_workers"},
    "optimizer_config": {"grad_clip": "clip_grad", "cumulative_iters": "accumulative_counts"},
    "evaluation": {"metrics": "metric_list", "start": "val_begin"},
    "lr_config": {"min_lr": "eta_min", "min_lr_ratio": "eta_min_ratio"},
}

# Top-level keys that only 0.x configs have (options on them apply before the upgrade).
OLD_KEYS = frozenset(
    {
        "data",
        "optimizer",
        "optimizer_config",
        "lr_config",
        "momentum_config",
        "total_epochs",
        "runner",
        "evaluation",
        "checkpoint_config",
        "log_config",
        "dist_params",
        "resume_from",
        "workflow",
        "fp16",
        "cudnn_benchmark",
        "mp_start_method",
        "opencv_num_threads",
    }
)

_FORMAT_STEPS = frozenset({"Collect", "ToTensor", "ImageToTensor", "ToDataContainer"})
_OLD_STEPS = _FORMAT_STEPS | {"Normalize"}


def _is_dict(v: Any) -> bool:
    return isinstance(v, dict)


def _has_old_pipeline(value: Any) -> bool:
    if isinstance(value, list) and any(_is_dict(s) and s.get("type") in _OLD_STEPS for s in value):
        return True
    if _is_dict(value):
        return any(_has_old_pipeline(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_old_pipeline(v) for v in value)
    return False


def _short(v: Any) -> str:
    r = repr(v.to_dict() if hasattr(v, "to_dict") else v)
    return r if len(r) <= 70 else r[:67] + "..."


class _UpgradeBase:
    """The state of one upgrade; the conversions are methods of the subclasses."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.notes: list[str] = []
        self.norm: dict | None = None
        self.format_shape: str | None = None

    def note(self, msg: str) -> None:
        self.notes.append(msg)
