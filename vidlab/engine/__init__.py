"""The engine: training/testing loop, checkpoints, hooks, optimizers, schedules, EMA.

Imports are lazy so ``import vidlab.engine`` stays cheap.
"""

_EXPORTS = {
    "train": "vidlab.engine.train",
    "test": "vidlab.engine.train",
    "evaluate": "vidlab.engine.train",
    "TrainState": "vidlab.engine.train",
    "TrainingError": "vidlab.engine.train",
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
