"""The one exception type of the config system, and how its messages name places.

Every config message says where a problem is: a file (:func:`display_path`) and a key path
(:func:`join_key`). These helpers live here, below every other config module, so that the
loader, the option parser, ``build`` and ``validate`` write places the same way.
"""

from __future__ import annotations

import os
from typing import Any


class ConfigError(ValueError):
    """A problem with a config: the message is the whole report (file, key path, what is wrong).

    The CLI prints ``str(err)`` only, so the message must stand on its own; no deep traceback is
    needed. ``problems`` holds the individual lines when several problems were collected
    (``validate``); it is empty for a single-problem error.
    """

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems: list[str] = list(problems or [])


class ConfigWarning(UserWarning):
    """A likely mistake that is not an error (a top-level name close to a known one); the CLI
    prints it as one ``warning:`` line."""


def display_path(path: str | os.PathLike | None) -> str:
    """A file path as messages show it: relative to the working folder when it lies below it.

    Args:
        path: The file, or None for a config made from a dict.

    Returns:
        The path to print; ``"<config>"`` for None.
    """
    if path is None:
        return "<config>"
    p = os.fspath(path)
    try:
        rel = os.path.relpath(p)
    except ValueError:  # another drive on Windows
        return p
    return p if rel.startswith("..") else rel


def join_key(prefix: str, key: Any) -> str:
    """Extend a key path: ``join_key("model", "backbone")`` is ``"model.backbone"`` and
    ``join_key("pipeline", 2)`` is ``"pipeline[2]"``."""
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    return f"{prefix}.{key}" if prefix else str(key)
