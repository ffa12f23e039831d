"""Compatibility with MMAction2 0.x configs.

- :data:`ALIASES`: 0.x type names -> their 1.x names (used by ``vidlab.config.resolve_type``).
- :func:`upgrade_config`: converts a 0.x config (``data=``, ``optimizer=``, ``lr_config=``,
  ``total_epochs``, ...) to the 1.x layout and says what it changed; ``load_config`` calls it
  and keeps the notes in ``cfg._upgrade_notes``.
"""

from vidlab.compat.mmaction0x import ALIASES, KWARG_RENAMES, OLD_KEYS, is_old_style, upgrade_config

__all__ = ["ALIASES", "KWARG_RENAMES", "OLD_KEYS", "is_old_style", "upgrade_config"]
