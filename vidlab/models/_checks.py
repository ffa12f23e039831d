"""Argument checks shared by model constructors."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any


def frozen(**spec: Any) -> Mapping[str, Any]:
    """A read-only layer spec for a default argument (``norm_cfg=frozen(type='BN3d')``)."""
    return MappingProxyType(spec)


def built(value: Any, what: str) -> Any:
    """``value`` itself, or a clear error when it is a config dict that was never built.

    Model constructors take built modules; config files are turned into modules, children
    first, by ``vidlab.config.build``.
    """
    if isinstance(value, Mapping) and "type" in value:
        raise TypeError(
            f"{what} got the config dict {dict(value)!r}; pass a built object, or build the "
            "whole model from its config: vidlab.config.build(dict(type=..., ...))"
        )
    return value
