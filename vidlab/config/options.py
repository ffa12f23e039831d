"""``--cfg-options``: ``"a.b.c=value"`` strings parsed and set into a config.

A value is parsed as MMEngine's ``DictAction`` does (see :func:`parse_option_value`). A key is a
dotted path whose parts index into dicts and, when they are integers, into lists and tuples
(``train_dataloader.dataset.pipeline.2.scale=(128,128)``); new keys may be added at any level.

This module does not know the :class:`~vidlab.config.Config` type: it sets plain values, and the
``Config`` they are set into converts them (see :func:`set_path`).
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, MutableMapping
from typing import Any

from vidlab.config.errors import ConfigError

__all__ = ["apply_options", "parse_option_value", "parse_options", "set_path"]


def _split_top_level(s: str) -> list[str]:
    """Split on commas that are not inside brackets or quotes."""
    parts, depth, quote, start = [], 0, None, 0
    for i, ch in enumerate(s):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(s[start:i])
            start = i + 1
    parts.append(s[start:])
    return parts


def _parse_scalar(s: str) -> Any:
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        try:
            return ast.literal_eval(s)
        except (ValueError, SyntaxError):
            return s[1:-1]
    try:
        return int(s)
    except ValueError:
        pass
    try:
        return float(s)
    except ValueError:
        pass
    if s in ("True", "true"):
        return True
    if s in ("False", "false"):
        return False
    if s in ("None", "none", "null"):
        return None
    return s


def _unbalanced(s: str) -> str | None:
    """What is wrong with the brackets or quotes of ``s``, or None."""
    stack: list[str] = []
    quote = None
    pairs = {")": "(", "]": "[", "}": "{"}
    for ch in s:
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            stack.append(ch)
        elif ch in pairs:
            if not stack or stack[-1] != pairs[ch]:
                return f"{ch!r} closes nothing"
            stack.pop()
    if quote and s.strip()[:1] in "'\"":
        return f"the quote {quote} is not closed"
    if stack:
        return f"{stack[-1]!r} is not closed"
    return None


def _matching_close(s: str) -> bool:
    """True if the bracket at s[0] closes at s[-1] (so ``[1],[2]`` is not one list)."""
    depth, quote = 0, None
    for i, ch in enumerate(s):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return i == len(s) - 1
    return False


def parse_option_value(text: str) -> Any:
    """Parse the value of a ``key=value`` option as MMEngine's ``DictAction`` does.

    ``1`` -> int, ``0.1`` / ``1e-3`` -> float, ``True``/``true``/``False``/``false`` -> bool,
    ``None``/``none`` -> None, ``[1,2]`` -> list, ``(1,2)`` -> tuple, ``a,b,c`` -> list,
    nested brackets nest, ``'x'`` / ``"x"`` -> the string x (quotes keep ``'1,2'`` a string),
    ``{...}`` -> a Python dict literal; anything else is the string itself.
    """
    s = text.strip()
    if not s:
        return ""
    if s[0] in "([{" and _matching_close(s) and s[-1] == {"(": ")", "[": "]", "{": "}"}[s[0]]:
        if s[0] == "{":
            try:
                return ast.literal_eval(s)
            except (ValueError, SyntaxError):
                return s
        body = s[1:-1].strip()
        if not body:
            items: list[Any] = []
        else:
            parts = _split_top_level(body)
            if parts and not parts[-1].strip():  # trailing comma: (1,)
                parts = parts[:-1]
            items = [parse_option_value(p) for p in parts]
        return tuple(items) if s[0] == "(" else items
    parts = _split_top_level(s)
    if len(parts) > 1:
        if not parts[-1].strip():
            parts = parts[:-1]
        return [parse_option_value(p) for p in parts]
    return _parse_scalar(s)


def parse_options(options: Mapping[str, Any] | list[str] | tuple | None) -> list[tuple[str, Any]]:
    """``["a.b=1", ...]`` (or a dict of already-parsed values) -> ``[("a.b", 1), ...]``.

    Args:
        options: ``"key=value"`` strings (values parsed by :func:`parse_option_value`), a single
            such string, or a dict of dotted keys to values (kept as they are).

    Returns:
        ``(dotted key, value)`` pairs in order.

    Raises:
        ConfigError: An item without ``=``, or a key with an empty part.
    """
    if not options:
        return []
    if isinstance(options, Mapping):
        return [(str(k), v) for k, v in options.items()]
    if isinstance(options, str):
        options = [options]
    out = []
    for opt in options:
        if not isinstance(opt, str) or "=" not in opt:
            raise ConfigError(
                f"config option {opt!r} has no '=': write KEY=VALUE, "
                "e.g. train_dataloader.batch_size=8 or model.cls_head.num_classes=10"
            )
        key, _, raw = opt.partition("=")
        key = key.strip()
        unbalanced = _unbalanced(raw)
        if unbalanced:
            raise ConfigError(
                f"config option {opt!r}: cannot parse the value {raw!r}: {unbalanced}; a list "
                f"or tuple is written whole, e.g. '{key}=[1,2]' or '{key}=(128,128)' (quoted for "
                "the shell)"
            )
        if not key or any(not seg for seg in key.split(".")):
            raise ConfigError(
                f"config option {opt!r}: the key {key!r} is empty or has an empty part"
            )
        out.append((key, parse_option_value(raw)))
    return out


def _describe(v: Any) -> str:
    r = repr(v)
    return f"{type(v).__name__} ({r if len(r) <= 60 else r[:57] + '...'})"


def _set_in(container: Any, segs: list[str], value: Any, key: str, walked: list[str]) -> Any:
    """Set ``value`` at ``segs`` below ``container``; return the (possibly new) container.

    Every container on the way is stored back into its parent, so the nearest enclosing dict
    sees the change: when that dict is a Config, its ``__setitem__`` turns new dicts (also
    those put into lists and tuples below it) into Config nodes.
    """
    seg, rest = segs[0], segs[1:]
    here = ".".join(walked) or "the config"
    if isinstance(container, dict):
        if not rest:
            container[seg] = value
            return container
        child = container.get(seg)
        if child is None:
            child = {}
        container[seg] = _set_in(child, rest, value, key, [*walked, seg])
        return container
    if isinstance(container, (list, tuple)):
        try:
            idx = int(seg)
        except ValueError:
            raise ConfigError(
                f"config option {key}=...: {here} is a {type(container).__name__}, so the next "
                f"part of the key must be an index, not {seg!r}"
            ) from None
        if not -len(container) <= idx < len(container):
            raise ConfigError(
                f"config option {key}=...: index {idx} is out of range for {here} "
                f"(a {type(container).__name__} of {len(container)} items)"
            )
        if rest:
            child = container[idx]
            if child is None:
                child = {}
            new = _set_in(child, rest, value, key, [*walked, seg])
        else:
            new = value
        if isinstance(container, list):
            container[idx] = new
            return container
        items = list(container)
        items[idx] = new
        return type(container)(*items) if hasattr(container, "_fields") else type(container)(items)
    raise ConfigError(
        f"config option {key}=...: cannot set {'.'.join(segs)} inside {here}: it is "
        f"{_describe(container)}, not a dict or list"
    )


def set_path(cfg: MutableMapping, key: str, value: Any) -> None:
    """Set ``value`` at the dotted ``key`` of ``cfg`` in place, as one ``--cfg-options`` item.

    Args:
        cfg: The config (a :class:`~vidlab.config.Config`, whose nodes stay Config nodes).
        key: A dotted path; integer parts index into lists and tuples.
        value: The value, already parsed.

    Raises:
        ConfigError: A part of the path indexes into something that is not a dict or list, or
            an index is out of range.
    """
    _set_in(cfg, key.split("."), value, key, [])


def apply_options(cfg: MutableMapping, options: Mapping[str, Any] | list[str] | None):
    """Apply ``cfg_options`` to ``cfg`` in place (and return it).

    New keys are allowed at any level (``compile=True``, ``model.backbone.with_cp=True``);
    integer path parts index into lists and tuples.

    Args:
        cfg: The config to change.
        options: ``["key=value", ...]`` strings or a dict of dotted keys to parsed values.

    Returns:
        ``cfg``.
    """
    for key, value in parse_options(options):
        set_path(cfg, key, value)
    return cfg
