"""MMAction2's import paths, mapped onto vidlab's names: ``import mmaction...`` gives vidlab.

Loaded as a pytest plugin (``-p mmaction2_shim``) by ``run.py`` so that MMAction2 1.2.0's own
unit tests run unmodified against vidlab. It only maps names: a class or function is vidlab's
(looked up in ``vidlab.config.names.NAMES`` and ``vidlab.evaluation``), and a name vidlab does
not have is a placeholder that raises ``NotImplementedError`` when used, so only the tests
that use it fail. ``register_all_modules`` does nothing (vidlab has no registries); the
registries' ``build`` is ``vidlab.config.build``.
"""

from __future__ import annotations

import importlib
import sys
import types

_EVALUATION = "vidlab.evaluation"
_FUNCTIONAL = ("vidlab.evaluation.metrics", "vidlab.evaluation.temporal")


def _placeholder(name: str):
    def fail(*args, **kwargs):
        raise NotImplementedError(f"MMAction2's {name!r} has no vidlab counterpart")

    return type(name, (), {"__init__": fail, "__new__": lambda cls, *a, **k: fail()})


def _from_names(name: str):
    from vidlab.config.names import NAMES

    target = NAMES.get(name)
    if target is None:
        return None
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)


def _from_modules(modules):
    def find(name: str):
        for m in modules:
            try:
                module = importlib.import_module(m)
            except ModuleNotFoundError:  # an older vidlab (the runner's "before" count)
                continue
            obj = getattr(module, name, None)
            if obj is not None:
                return obj
        return None

    return find


def _module(path: str, *finders) -> types.ModuleType:
    mod = types.ModuleType(path)
    mod.__path__ = []  # a package: submodules are importable

    def __getattr__(name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        for find in finders:
            obj = find(name)
            if obj is not None:
                return obj
        return _placeholder(name)

    mod.__getattr__ = __getattr__
    sys.modules[path] = mod
    return mod


class _Registry:
    """``TRANSFORMS.build(cfg)`` and friends: vidlab's config build."""

    def __init__(self, name: str):
        self.name = name

    def build(self, cfg, *args, **kwargs):
        from vidlab.config import build

        return build(dict(cfg))

    def get(self, name: str):
        return _from_names(name)


def install() -> None:
    """Put the mapped ``mmaction`` modules into ``sys.modules`` (before any test imports)."""
    for key in [k for k in sys.modules if k == "mmaction" or k.startswith("mmaction.")]:
        del sys.modules[key]
    names = _from_names
    evaluation = _from_modules((_EVALUATION, *_FUNCTIONAL))
    top = _module("mmaction", names)
    top.__version__ = "vidlab"
    for path in (
        "mmaction.datasets",
        "mmaction.datasets.transforms",
        "mmaction.datasets.transforms.loading",
        "mmaction.datasets.transforms.processing",
        "mmaction.datasets.transforms.formatting",
        "mmaction.datasets.transforms.wrappers",
        "mmaction.datasets.transforms.pose_transforms",
        "mmaction.models",
    ):
        _module(path, names)
    _module("mmaction.evaluation", evaluation, names)
    _module("mmaction.evaluation.functional", _from_modules(_FUNCTIONAL))
    _module("mmaction.evaluation.metrics", names)
    _module("mmaction.structures")  # ActionDataSample: vidlab has no data-sample classes
    utils = _module("mmaction.utils")
    utils.register_all_modules = lambda init_default_scope=True: None
    registry = _module("mmaction.registry")
    for reg in ("TRANSFORMS", "METRICS", "DATASETS", "MODELS"):
        setattr(registry, reg, _Registry(reg))


install()
