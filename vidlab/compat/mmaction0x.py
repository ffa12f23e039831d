"""MMAction2 0.x configs -> the 1.x layout vidlab reads.

The mapping follows MMAction2's "Migration from MMAction2 0.x" guide:

- ``data=dict(videos_per_gpu, workers_per_gpu, train, val, test, [train|val|test]_dataloader)``
  -> ``train_dataloader`` / ``val_dataloader`` / ``test_dataloader`` (``batch_size``,
  ``num_workers``, ``sampler=dict(type='DefaultSampler', shuffle=...)``, ``dataset``; a string
  ``data_prefix`` becomes ``dict(video=...)`` / ``dict(img=...)``; val/test datasets get
  ``test_mode=True``).
- pipelines: ``Collect`` / ``ToTensor`` / ``ImageToTensor`` / ``ToDataContainer`` are dropped and
  ``PackActionInputs`` ends the pipeline; ``Normalize`` moves to ``model.data_preprocessor``.
- ``optimizer`` (+ ``constructor``, ``paramwise_cfg``) and ``optimizer_config`` (``grad_clip``)
  and ``fp16`` -> ``optim_wrapper``.
- ``lr_config`` -> a ``param_scheduler`` list (warm-up scheduler + main scheduler).
- ``total_epochs`` / ``runner`` + ``evaluation`` -> ``train_cfg`` (``max_epochs``,
  ``val_interval``), ``val_cfg``, ``test_cfg``, ``val_evaluator``, ``test_evaluator``;
  ``evaluation.save_best`` -> ``default_hooks.checkpoint.save_best``.
- ``checkpoint_config`` -> ``default_hooks.checkpoint``; ``log_config`` ->
  ``default_hooks.logger`` + ``visualizer`` backends.
- top-level ``train_cfg=None`` / ``test_cfg=dict(average_clips=...)`` (0.x model settings) ->
  ``model.cls_head.average_clips`` / ``model.test_cfg``; ``train_cfg.blending`` ->
  ``model.data_preprocessor.blending``.
- ``dist_params``, ``cudnn_benchmark``, ``mp_start_method``, ``opencv_num_threads`` ->
  ``env_cfg``; ``resume_from`` -> ``load_from`` + ``resume=True``; ``workflow`` is dropped.

The conversions live in :mod:`vidlab.compat.mmaction0x_data` (model settings, pipelines, data)
and :mod:`vidlab.compat.mmaction0x_train` (optimizer, schedules, loops, runtime); the 0.x name
tables in :mod:`vidlab.compat.mmaction0x_base`, re-exported here for the config package.
"""

from __future__ import annotations

import copy

from vidlab.compat.mmaction0x_base import (
    ALIASES,
    KWARG_RENAMES,
    OLD_KEYS,
    _has_old_pipeline,
    _is_dict,
)
from vidlab.compat.mmaction0x_data import _DataUpgrade
from vidlab.compat.mmaction0x_train import _TrainUpgrade

__all__ = ["ALIASES", "KWARG_RENAMES", "OLD_KEYS", "is_old_style", "upgrade_config"]


def is_old_style(cfg: dict) -> bool:
    """True if ``cfg`` uses MMAction2 0.x keys whose 1.x counterparts are absent, or 0.x
    pipeline steps (``Collect``, ``ToTensor``, ``Normalize``, ...)."""
    data = cfg.get("data")
    if (
        _is_dict(data)
        and "train_dataloader" not in cfg
        and ({"train", "val", "test", "videos_per_gpu", "workers_per_gpu"} & set(data))
    ):
        return True
    if _is_dict(cfg.get("optimizer")) and "optim_wrapper" not in cfg:
        return True
    if "lr_config" in cfg and "param_scheduler" not in cfg:
        return True
    if "total_epochs" in cfg or "optimizer_config" in cfg or "checkpoint_config" in cfg:
        return True
    if "log_config" in cfg or "resume_from" in cfg or "workflow" in cfg:
        return True
    if _is_dict(cfg.get("evaluation")) and "val_evaluator" not in cfg:
        return True
    runner = cfg.get("runner")
    if _is_dict(runner) and str(runner.get("type", "")).endswith("Runner"):
        return True
    return _has_old_pipeline(cfg)


class _Upgrader(_DataUpgrade, _TrainUpgrade):
    """All the conversions, in order."""

    def run(self) -> None:
        self.model_settings()
        self.pipelines()
        self.data_preprocessor()
        self.data()
        self.optimizer()
        max_epochs = self.max_epochs()
        self.lr_config(max_epochs)
        self.loops(max_epochs)
        self.runtime()


def upgrade_config(cfg: dict) -> tuple[dict, list[str]]:
    """Convert an MMAction2 0.x config to the 1.x layout.

    The new config is a deep copy of ``cfg`` and so of its type: a
    :class:`vidlab.config.Config` stays a Config (the loader passes one in), and the dicts this
    function adds become Config nodes as they are stored into it. This module imports nothing of
    ``vidlab.config``: the config package calls it, never the other way round.

    Args:
        cfg: The config; it is not changed.

    Returns:
        ``(new_cfg, notes)``: the upgraded config (``cfg`` itself for a 1.x config) and
        human-readable notes of every conversion, in order.
    """
    if not is_old_style(cfg):
        return cfg, []
    new = copy.deepcopy(cfg)
    up = _Upgrader(new)
    up.run()
    return new, up.notes
