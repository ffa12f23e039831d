"""Build a sub-module given either as a built object or as a config dict with ``type``."""

from __future__ import annotations

from typing import Any


def build_module(node: Any, key_path: str = "") -> Any:
    """Return ``node`` itself, or the object built from it when it is a dict with ``type``."""
    if isinstance(node, dict) and "type" in node:
        from vidlab.config import build  # lazy: the config package imports models by name

        return build(node, key_path=key_path)
    return node
