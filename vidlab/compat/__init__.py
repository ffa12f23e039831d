"""Compatibility with MMAction2 / OpenMMLab, in one place.

- :mod:`vidlab.compat.mmaction0x`: MMAction2 0.x configs. :data:`ALIASES` maps 0.x type names
  to their 1.x names (used by ``vidlab.config.resolve_type``); :func:`upgrade_config` converts a
  0.x config (``data=``, ``optimizer=``, ``lr_config=``, ``total_epochs``, ...) to the 1.x layout
  and says what it changed (``load_config`` calls it and keeps the notes in
  ``cfg._upgrade_notes``). The conversions are in ``mmaction0x_data`` and ``mmaction0x_train``,
  the 0.x name tables in ``mmaction0x_base``.

Importing this package imports none of its modules: each is imported when one of its names is
first used, so ``import vidlab.compat.<module>`` costs only that module. The config package
depends on this one, not the other way round.
"""

from __future__ import annotations

import importlib
from typing import Any

# Public name -> the submodule that defines it (imported on first use).
_EXPORTS = {
    "ALIASES": "vidlab.compat.mmaction0x_base",
    "KWARG_RENAMES": "vidlab.compat.mmaction0x_base",
    "OLD_KEYS": "vidlab.compat.mmaction0x_base",
    "is_old_style": "vidlab.compat.mmaction0x",
    "upgrade_config": "vidlab.compat.mmaction0x",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
