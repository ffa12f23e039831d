"""MMEngine's vocabulary: the names MMAction2 1.x configs use for the runner's parts.

vidlab has no runner, no optimizer wrapper and no visualizer object: its loop is plain code in
:mod:`vidlab.engine.loop`. These classes exist so that MMAction2 configs build and validate
against a signature; each holds its arguments, which the engine reads:

- ``train_cfg`` / ``val_cfg`` / ``test_cfg``: :class:`EpochBasedTrainLoop`,
  :class:`MultiLoaderEpochBasedTrainLoop` (MMAction2's, for OmniSource), :class:`ValLoop`,
  :class:`TestLoop`.
- ``optim_wrapper``: :class:`OptimWrapper`, :class:`AmpOptimWrapper` (read by
  :func:`vidlab.engine.optim.build_optimizer`).
- ``default_hooks`` entries whose work the loop does itself (:class:`IterTimerHook`,
  :class:`ParamSchedulerHook`, :class:`DistSamplerSeedHook`, :class:`SyncBuffersHook`,
  :class:`RuntimeInfoHook`), and :data:`DEFAULT_HOOK_TYPES` for entries written without a type.
- ``visualizer`` / ``log_processor``: :class:`ActionVisualizer`, :class:`LocalVisBackend`,
  :class:`TensorboardVisBackend`, :class:`LogProcessor` (read by
  :func:`vidlab.engine.logs.writers_from_config`).

Their short names are listed in :data:`vidlab.config.names.NAMES`.
"""

from __future__ import annotations

from vidlab.config.errors import ConfigError
from vidlab.config.names import DEFAULT_HOOK_TYPES
from vidlab.engine.hooks import Hook

__all__ = [
    "DEFAULT_HOOK_TYPES",
    "ActionVisualizer",
    "AmpOptimWrapper",
    "DistSamplerSeedHook",
    "EpochBasedTrainLoop",
    "IterTimerHook",
    "LocalVisBackend",
    "LogProcessor",
    "MultiLoaderEpochBasedTrainLoop",
    "OptimWrapper",
    "ParamSchedulerHook",
    "RuntimeInfoHook",
    "SyncBuffersHook",
    "TensorboardVisBackend",
    "TestLoop",
    "ValLoop",
]


# --------------------------------------------------------------------------------------------
# train_cfg / val_cfg / test_cfg
# --------------------------------------------------------------------------------------------


class EpochBasedTrainLoop:
    """``train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=.., val_begin=1, val_interval=1)``.

    Validation runs after epoch ``e`` (1-based) when ``e >= val_begin`` and
    ``e % val_interval == 0`` or ``e == max_epochs``, as in MMEngine.
    """

    def __init__(
        self, max_epochs: int, val_begin: int = 1, val_interval: int = 1, dynamic_intervals=None
    ):
        if int(max_epochs) < 1:
            raise ConfigError(f"train_cfg.max_epochs must be >= 1, got {max_epochs}")
        self.max_epochs = int(max_epochs)
        self.val_begin = int(val_begin)
        self.val_interval = int(val_interval)

    def val_due(self, epoch: int) -> bool:
        """Whether to validate after ``epoch`` epochs."""
        if self.val_interval <= 0 or epoch < self.val_begin:
            return False
        return epoch % self.val_interval == 0 or epoch == self.max_epochs


class MultiLoaderEpochBasedTrainLoop(EpochBasedTrainLoop):
    """MMAction2's ``train_cfg=dict(type='MultiLoaderEpochBasedTrainLoop', other_loaders=[...],
    max_epochs=..)`` (OmniSource): each step also takes one batch of every loader in
    ``other_loaders`` (dataloader config dicts, built by the engine like ``train_dataloader``,
    with the run's seed) and trains on the sum of the losses; an epoch is as long as the shortest
    loader, and every loader starts over each epoch. Single process only for now.
    """

    _lazy_args = ("other_loaders",)  # loader dicts: the engine builds them, not the config

    def __init__(
        self,
        other_loaders,
        max_epochs: int,
        val_begin: int = 1,
        val_interval: int = 1,
        dynamic_intervals=None,
    ):
        super().__init__(max_epochs, val_begin, val_interval, dynamic_intervals)
        if not isinstance(other_loaders, list | tuple) or not all(
            isinstance(x, dict) for x in other_loaders
        ):
            raise ConfigError(
                "train_cfg.other_loaders must be a list of dataloader dicts "
                "(dict(batch_size=.., dataset=dict(type=..), sampler=..))"
            )
        self.other_loaders = [dict(x) for x in other_loaders]


class ValLoop:
    """``val_cfg=dict(type='ValLoop')``; ``fp16=True`` runs validation under autocast."""

    _accepts_any_kwargs = True  # MMEngine loop arguments vidlab has no use for

    def __init__(self, fp16: bool = False, **kwargs):
        self.fp16 = fp16


class TestLoop(ValLoop):
    """``test_cfg=dict(type='TestLoop')``; ``max_testing_views`` chunks the views of a batch."""

    def __init__(self, fp16: bool = False, max_testing_views: int | None = None, **kwargs):
        super().__init__(fp16=fp16)
        self.max_testing_views = max_testing_views


# --------------------------------------------------------------------------------------------
# optim_wrapper
# --------------------------------------------------------------------------------------------


class OptimWrapper:
    """Config holder for MMEngine's ``OptimWrapper`` (``optim_wrapper.type``).

    vidlab has no wrapper object: :func:`vidlab.engine.optim.build_optimizer` reads these keys
    and the training loop applies clipping and accumulation itself. ``paramwise_cfg`` and
    ``constructor`` are listed because they live in the same dict in MMEngine configs (MMEngine
    pops them before building).
    """

    _lazy_args = ("optimizer", "paramwise_cfg", "clip_grad")

    def __init__(
        self,
        optimizer=None,
        clip_grad: dict | None = None,
        accumulative_counts: int = 1,
        paramwise_cfg: dict | None = None,
        constructor=None,
    ):
        self.optimizer = optimizer
        self.clip_grad = clip_grad
        self.accumulative_counts = accumulative_counts
        self.paramwise_cfg = paramwise_cfg
        self.constructor = constructor


class AmpOptimWrapper(OptimWrapper):
    """Config holder for MMEngine's ``AmpOptimWrapper``: mixed precision with a grad scaler.

    ``dtype``: ``'float16'`` (default when None) or ``'bfloat16'``; ``loss_scale``: ``'dynamic'``,
    a float (static scale) or a dict of ``torch.amp.GradScaler`` arguments.
    """

    def __init__(
        self,
        optimizer=None,
        clip_grad: dict | None = None,
        accumulative_counts: int = 1,
        paramwise_cfg: dict | None = None,
        constructor=None,
        loss_scale="dynamic",
        dtype=None,
        use_fsdp: bool = False,
    ):
        super().__init__(optimizer, clip_grad, accumulative_counts, paramwise_cfg, constructor)
        self.loss_scale = loss_scale
        self.dtype = dtype
        self.use_fsdp = use_fsdp


# --------------------------------------------------------------------------------------------
# default_hooks whose work the loop does in plain sight
# --------------------------------------------------------------------------------------------


class _ConfigOnlyHook(Hook):
    """Accepts any MMEngine arguments; the loop does the work in plain sight."""

    _accepts_any_kwargs = True

    def __init__(self, **kwargs):
        self.kwargs = kwargs


class IterTimerHook(_ConfigOnlyHook):
    """Accepted for configs: the loop measures data and step time itself."""


class ParamSchedulerHook(_ConfigOnlyHook):
    """Accepted for configs: the loop calls ``schedulers.step_iter`` before each iteration."""


class DistSamplerSeedHook(_ConfigOnlyHook):
    """Accepted for configs: the loop calls ``sampler.set_epoch`` before each epoch."""


class SyncBuffersHook(_ConfigOnlyHook):
    """With several processes, the loop averages BatchNorm buffers across ranks after each
    epoch (as MMEngine's hook) when this hook is configured."""


class RuntimeInfoHook(_ConfigOnlyHook):
    """Accepted for configs: ``TrainState`` holds the runtime information."""


# --------------------------------------------------------------------------------------------
# visualizer / log_processor
# --------------------------------------------------------------------------------------------


class _ConfigOnly:
    """Accepts any MMEngine arguments; nothing is built from it."""

    _accepts_any_kwargs = True

    def __init__(self, **kwargs):
        self.kwargs = kwargs


class LogProcessor(_ConfigOnly):
    """Accepted for configs (``log_processor``): ``LoggerHook`` averages over its interval."""


class LocalVisBackend(_ConfigOnly):
    """Accepted for configs: scalars always go to ``<work_dir>/log.jsonl``."""


class TensorboardVisBackend(_ConfigOnly):
    """TensorBoard scalars (needs ``pip install tensorboard``); see
    ``vidlab.engine.logs.writers_from_config``."""


class ActionVisualizer(_ConfigOnly):
    """Accepted for configs (``visualizer``): its ``vis_backends`` choose the scalar writers."""
