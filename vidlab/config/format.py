"""Config -> Python source: what ``Config.pretty_text()`` and ``Config.dump()`` write.

The text is a config file that :func:`vidlab.config.load_config` reads back equal: one
``name = value`` statement per top-level key, dicts written as ``dict(...)``, lines kept under
100 characters. Classes and functions used as values are written as ``"module:Name"`` strings,
which resolve to the same objects. This module works on any mapping and imports nothing else of
the config package.
"""

from __future__ import annotations

import enum
import keyword
import math
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

__all__ = ["format_config", "json_default", "object_ref"]

_LINE_WIDTH = 100
_INDENT = 4


def object_ref(obj: Any) -> str:
    """``"module:Name"`` for a class or function (what a config ``type`` string names)."""
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if module and qualname and "<locals>" not in qualname:
        return f"{module}:{qualname}"
    return repr(obj)


def json_default(obj: Any) -> Any:
    """``json.dumps`` fallback for the values a config holds that JSON lacks."""
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, type) or callable(obj):
        return object_ref(obj)
    return str(obj)


def _is_ident_key(k: Any) -> bool:
    return isinstance(k, str) and k.isidentifier() and not keyword.iskeyword(k)


def _inline_scalar(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return repr(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "float('nan')"
        if math.isinf(v):
            return "float('inf')" if v > 0 else "float('-inf')"
        return repr(v)
    if isinstance(v, (int, str, bytes, complex)):
        return repr(v)
    if isinstance(v, enum.Enum):
        return _inline(v.value)
    if isinstance(v, PurePath):
        return repr(str(v))
    if type(v).__module__ == "numpy":
        if hasattr(v, "tolist"):
            return _inline(v.tolist())
    if isinstance(v, type) or callable(v):
        return repr(object_ref(v))
    return repr(repr(v))


def _inline(v: Any) -> str:
    if isinstance(v, dict):
        if not v:
            return "dict()"
        if all(_is_ident_key(k) for k in v):
            return "dict(" + ", ".join(f"{k}={_inline(x)}" for k, x in v.items()) + ")"
        return "{" + ", ".join(f"{_inline(k)}: {_inline(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_inline(x) for x in v) + "]"
    if isinstance(v, tuple):
        if len(v) == 1:
            return "(" + _inline(v[0]) + ",)"
        return "(" + ", ".join(_inline(x) for x in v) + ")"
    if isinstance(v, (set, frozenset)):
        if not v:
            return "set()" if isinstance(v, set) else "frozenset()"
        body = "{" + ", ".join(_inline(x) for x in sorted(v, key=repr)) + "}"
        return body if isinstance(v, set) else f"frozenset({body})"
    return _inline_scalar(v)


def _fmt(v: Any, col: int, indent: int) -> str:
    """Format ``v`` starting at column ``col``; continuation lines are indented by ``indent``."""
    one = _inline(v)
    if col + len(one) + 1 <= _LINE_WIDTH or not isinstance(v, (dict, list, tuple)) or not v:
        return one
    inner = indent + _INDENT
    pad = " " * inner
    lines = []
    if isinstance(v, dict):
        ident = all(_is_ident_key(k) for k in v)
        open_, close = ("dict(", ")") if ident else ("{", "}")
        for k, x in v.items():
            head = f"{k}=" if ident else f"{_inline(k)}: "
            lines.append(f"{pad}{head}{_fmt(x, inner + len(head), inner)},")
    else:
        open_, close = ("[", "]") if isinstance(v, list) else ("(", ")")
        for x in v:
            lines.append(f"{pad}{_fmt(x, inner, inner)},")
    return open_ + "\n" + "\n".join(lines) + "\n" + " " * indent + close


def format_config(cfg: Mapping) -> str:
    """Python source for a config: one ``name = value`` statement per top-level key.

    Args:
        cfg: The config, or any mapping of names to plain values.

    Returns:
        The text; keys that are not Python names are left out with a comment saying so.
    """
    chunks: list[str] = []
    for k, v in cfg.items():
        if not _is_ident_key(k):
            chunks.append(f"# key {k!r} cannot be written as a Python name; left out")
            continue
        chunks.append(f"{k} = {_fmt(v, len(k) + 3, 0)}")
    out: list[str] = []
    for i, chunk in enumerate(chunks):
        multi = "\n" in chunk
        if i and (multi or "\n" in chunks[i - 1]):
            out.append("")
        out.append(chunk)
    return "\n".join(out) + "\n"
