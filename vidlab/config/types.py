"""The :class:`Config` type: a dict with attribute access whose nested dicts are Config too.

This module sits below the loader, the option parser and ``build``; it imports the formatter
(for :meth:`Config.pretty_text`) and the option parser (for :meth:`Config.merge_from_dict`), both
of which know nothing of Config. :meth:`Config.fromfile` is MMEngine's name for
:func:`vidlab.config.load_config`; it imports the loader when called, because the loader is
built on this type.
"""

from __future__ import annotations

import copy
import difflib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vidlab.config.format import format_config, json_default
from vidlab.config.options import apply_options

__all__ = ["Config", "to_config", "to_plain"]


def to_config(value: Any) -> Any:
    """``value`` with its plain dicts turned into Config, also inside lists and tuples.

    A value that needs no change is returned as is (the same object).
    """
    if isinstance(value, Config):
        return value
    if isinstance(value, dict):
        out = Config()
        for k, v in value.items():
            dict.__setitem__(out, k, to_config(v))
        return out
    if isinstance(value, (list, tuple)):
        items = [to_config(v) for v in value]
        if all(a is b for a, b in zip(items, value)):
            return value
        if isinstance(value, list):
            return items
        if hasattr(value, "_fields"):  # namedtuple
            return type(value)(*items)
        return type(value)(items)
    return value


def to_plain(value: Any) -> Any:
    """Deep copy of ``value`` with every Config replaced by a plain dict."""
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, tuple):
        items = [to_plain(v) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
    return copy.deepcopy(value)


class Config(dict):
    """A dict with attribute access; nested dicts (also inside lists/tuples) are Config too.

    ``cfg.model.backbone.depth`` reads and ``cfg.model.backbone.depth = 101`` writes keys.
    Names that are dict methods (``items``, ``keys``, ``copy``, ...) must be read as
    ``cfg['items']``. Attributes that are not keys: ``filename`` (the file the config came
    from, None for a config made from a dict) and private ``_names`` (``_upgrade_notes``: what
    :func:`vidlab.compat.upgrade_config` changed in a 0.x config).
    """

    def __init__(self, *args: Any, filename: str | os.PathLike | None = None, **kwargs: Any):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], Config) and not kwargs:
            # Copy the non-key attributes (filename, _source, _upgrade_notes) of the source.
            self.__dict__.update(args[0].__dict__)
        if filename is not None:
            self.__dict__["filename"] = os.fspath(filename)
        for k, v in dict(*args, **kwargs).items():
            self[k] = v

    # --- attribute access ---------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            pass
        if name == "filename":
            return None
        raise AttributeError(self._missing_key_message(name))

    def _missing_key_message(self, name: str) -> str:
        keys = [k for k in self if isinstance(k, str)]
        msg = f"config has no key {name!r}"
        close = difflib.get_close_matches(name, keys, n=3, cutoff=0.6)
        if close:
            msg += f"; did you mean {' or '.join(repr(c) for c in close)}?"
        elif keys:
            shown = ", ".join(keys[:20]) + (", ..." if len(keys) > 20 else "")
            msg += f" (keys: {shown})"
        return msg

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_") or name == "filename":
            object.__setattr__(self, name, value)
        else:
            self[name] = value

    def __delattr__(self, name: str) -> None:
        if name in self.__dict__:
            object.__delattr__(self, name)
            return
        try:
            del self[name]
        except KeyError:
            raise AttributeError(self._missing_key_message(name)) from None

    def __dir__(self):
        return list(super().__dir__()) + [
            k for k in self if isinstance(k, str) and k.isidentifier()
        ]

    # --- dict methods that must convert nested values -----------------------------------
    def __setitem__(self, key: Any, value: Any) -> None:
        dict.__setitem__(self, key, to_config(value))

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        for k, v in dict(*args, **kwargs).items():
            self[k] = v

    def setdefault(self, key: Any, default: Any = None) -> Any:  # type: ignore[override]
        if key not in self:
            self[key] = default
        return self[key]

    def copy(self) -> Config:  # type: ignore[override]
        """A shallow copy that keeps ``filename`` and the other non-key attributes."""
        return Config(self)

    def __copy__(self) -> Config:
        return Config(self)

    def __deepcopy__(self, memo: dict) -> Config:
        new = Config.__new__(Config)
        memo[id(self)] = new
        for k, v in self.__dict__.items():
            new.__dict__[k] = copy.deepcopy(v, memo)
        for k, v in self.items():
            dict.__setitem__(new, copy.deepcopy(k, memo), copy.deepcopy(v, memo))
        return new

    def __reduce_ex__(self, protocol):  # pickle: DataLoader workers get configs too
        return (_rebuild_config, (dict(self), dict(self.__dict__)))

    def __repr__(self) -> str:
        return dict.__repr__(self)

    # --- conversions --------------------------------------------------------------------
    def to_dict(self) -> dict:
        """A deep copy as plain dicts/lists (no Config inside)."""
        return to_plain(self)

    def pretty_text(self) -> str:
        """Python source (``name = value`` lines) that :func:`load_config` reads back equal.

        Classes and functions used as values (``type=SomeClass``) are written as their
        ``"module:Name"`` string, which resolves to the same object.
        """
        return format_config(self)

    def dump(self, path: str | os.PathLike | None = None) -> str:
        """Write :meth:`pretty_text` to ``path`` (``.json`` writes JSON); return the text."""
        if path is not None and os.fspath(path).lower().endswith(".json"):
            text = json.dumps(self.to_dict(), indent=2, default=json_default) + "\n"
        else:
            text = self.pretty_text()
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text, encoding="utf-8")
        return text

    def merge_from_dict(self, options: Mapping[str, Any] | list[str]) -> None:
        """Apply ``cfg_options`` (a dict of dotted keys to values, or ``"k=v"`` strings) in place."""
        apply_options(self, options)

    @classmethod
    def fromfile(cls, path: str | os.PathLike, cfg_options=None) -> Config:
        """MMEngine-style alias of :func:`vidlab.config.load_config`."""
        # Imported here: the loader is built on this type, so it cannot be imported above.
        from vidlab.config.load import load_config

        return load_config(path, cfg_options)


def _rebuild_config(items: dict, attrs: dict) -> Config:
    cfg = Config()
    cfg.__dict__.update(attrs)
    for k, v in items.items():
        dict.__setitem__(cfg, k, v)
    return cfg
