"""From config nodes to objects: :func:`build`.

Nested nodes are built depth first, then the node's ``type`` (see
:func:`vidlab.config.resolve_type`) is called with its arguments. Exceptions raised inside a
constructor propagate unchanged, with a note naming the key path, the type and the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vidlab.config.errors import ConfigError, display_path, join_key
from vidlab.config.resolve import LAZY_KEYS, is_node, resolve_type, source_of, type_name, where

__all__ = ["build"]


def _plain(value: Any) -> Any:
    """Containers rebuilt as plain dict/list/tuple (so a constructor may change them freely);
    leaves are kept as they are (a module object passed in a config is not copied)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        items = [_plain(v) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
    return value


def _add_note(e: BaseException, note: str) -> None:
    if hasattr(e, "add_note"):
        e.add_note(note)
    else:  # Python 3.10
        try:
            e.__notes__ = [*getattr(e, "__notes__", []), note]  # type: ignore[attr-defined]
        except AttributeError:
            pass


def _build_value(value: Any, key_path: str, filename: str | None) -> Any:
    if is_node(value):
        return _build_node(value, key_path, filename, {})
    if isinstance(value, Mapping):
        return {
            k: (_plain(v) if k in LAZY_KEYS else _build_value(v, join_key(key_path, k), filename))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        items = [_build_value(v, join_key(key_path, i), filename) for i, v in enumerate(value)]
        if isinstance(value, list):
            return items
        return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
    return value


def _build_node(node: Mapping, key_path: str, filename: str | None, injected: dict) -> Any:
    filename = source_of(node, filename)
    t = node["type"]
    target = resolve_type(t, key_path=key_path, filename=filename)
    lazy = set(LAZY_KEYS) | set(getattr(target, "_lazy_args", ()) or ())
    kwargs: dict[str, Any] = {}
    for k, v in node.items():
        if k in ("type", "_scope_"):
            continue
        if k in lazy:
            kwargs[k] = _plain(v)
        else:
            kwargs[k] = _build_value(v, join_key(key_path, k), filename)
    for k, v in injected.items():
        kwargs.setdefault(k, v)
    try:
        return target(**kwargs)
    except Exception as e:
        where = key_path or "the config node"
        note = f"while building {where} ({type_name(t)})"
        if filename:
            note += f" from {display_path(filename)}"
        _add_note(e, note)
        raise


def build(node: Any, *, key_path: str = "", **injected: Any) -> Any:
    """Build the object a config node describes.

    Nested nodes in the node's arguments (inside dicts and lists) are built first, depth first;
    then ``type`` is called with the node's arguments plus ``injected`` (values already in the
    node win, as MMEngine's ``default_args``). Arguments listed in the class attribute
    ``_lazy_args`` (and MMCV-style layer specs such as ``norm_cfg``) are passed as plain dicts,
    unbuilt. A list or tuple of nodes builds to a list/tuple of objects.

    Args:
        node: A dict with a ``type`` (see :func:`~vidlab.config.resolve_type`), or a list or
            tuple of such dicts.
        key_path: Where the node is in the config, for messages and notes.
        **injected: Arguments the caller supplies (``params=`` for an optimizer).

    Returns:
        The object (or a list/tuple of objects).

    Raises:
        ConfigError: ``node`` is not a node, or its type (or a nested one) cannot be resolved.
            An exception raised by a constructor propagates unchanged, with a note naming the
            key path, the type and the config file.
    """
    if isinstance(node, (list, tuple)) and not is_node(node):
        return type(node)(
            build(n, key_path=join_key(key_path, i), **injected) for i, n in enumerate(node)
        )
    if not isinstance(node, Mapping):
        raise ConfigError(
            f"{key_path + ': ' if key_path else ''}cannot build {type(node).__name__} {node!r}: "
            "expected a dict with a 'type' key"
        )
    if not is_node(node):
        keys = ", ".join(map(str, node)) or "none"
        raise ConfigError(
            f"{where(key_path, source_of(node))}cannot build a dict without a 'type' "
            f"(its keys: {keys})"
        )
    return _build_node(node, key_path, None, injected)
