"""The engine: training/testing loop, checkpoints, hooks, optimizers, schedules, EMA.

``train.py`` (``train``/``test``) runs a config: ``build.py`` makes its parts, ``loop.py`` is
the training step, ``evaluate.py`` the multi-view evaluation, ``state.py`` the state, RNG and
resuming; ``optim.py``/``param_groups.py`` and ``schedules.py``/``param_schedulers.py`` read
``optim_wrapper`` and ``param_scheduler``. What differs per task lives in :mod:`vidlab.tasks`.

Imports are lazy so ``import vidlab.engine`` stays cheap.
"""

_EXPORTS = {
    "train": "vidlab.engine.train",
    "test": "vidlab.engine.train",
    "evaluate": "vidlab.engine.evaluate",
    "TrainState": "vidlab.engine.state",
    "TrainingError": "vidlab.engine.loop",
    "save_checkpoint": "vidlab.checkpoint",
    "load_checkpoint": "vidlab.checkpoint",
    "load_weights": "vidlab.checkpoint",
    "LoadReport": "vidlab.checkpoint",
    "CheckpointError": "vidlab.checkpoint",
    "Hook": "vidlab.engine.hooks",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'vidlab.engine' has no attribute {name!r}")
