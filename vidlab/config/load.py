"""Loading MMAction2 1.x / MMEngine-style Python configs into a :class:`Config`.

A config file is plain Python. Its top-level names holding plain data (dict, list, tuple, str,
numbers, bool, None) become the keys of the config; modules, functions, classes and private
``_names`` are left out. ``_base_ = 'x.py'`` or ``_base_ = ['a.py', 'b.py']`` (relative to the
file) names files whose merged content is the starting point: bases merge in order, then the
file's own keys merge on top, dict by dict (lists and other values replace). ``_delete_=True``
inside a dict replaces the base dict instead of merging into it.

Inside a child file the merged base is available as ``_base_`` (``_base_.model.backbone.depth``)
and MMEngine's text form ``{{_base_.model}}`` works too, as do ``{{ fileDirname }}``-style
predefined variables and ``{{$ENV_VAR:default}}``. ``.json`` and ``.yaml`` configs (with
``_base_``) load as well.

``cfg_options`` (``["a.b.c=value", ...]`` as the CLI's ``--cfg-options``) are applied after
merging; see :func:`parse_option_value` for the value syntax. Path segments index into dicts and,
when they are integers, into lists (``train_dataloader.dataset.pipeline.2.scale=(128,128)``).
"""

from __future__ import annotations

import ast
import builtins
import copy
import difflib
import enum
import json
import keyword
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any

from vidlab.config.errors import ConfigError

__all__ = [
    "Config",
    "load_config",
    "apply_options",
    "parse_options",
    "parse_option_value",
    "merge_configs",
]

BASE_KEY = "_base_"
DELETE_KEY = "_delete_"
# Where ``_base_ = 'vidlab::_base_/models/tsm_r50.py'`` (MMEngine's cross-package form) looks.
_PACKAGE_CONFIG_ROOT = Path(__file__).resolve().parent.parent / "configs"
# Scope prefixes of MMEngine's ``pkg::path`` form that map onto vidlab's shipped configs.
_PACKAGE_SCOPES = ("vidlab", "mmaction", "mmaction2")

_OPENMMLAB = frozenset({"mmaction", "mmengine", "mmcv", "mmdet", "mmpose", "mmpretrain", "mmcls"})
_PLAIN_SCALARS = (str, int, float, bool, complex, bytes, type(None))
_PLAIN_DATA = (dict, list, tuple, set, frozenset, *_PLAIN_SCALARS)


# ------------------------------------------------------------------------------------------
# Config
# ------------------------------------------------------------------------------------------


def _convert(value: Any) -> Any:
    """Turn nested plain dicts into Config (inside lists and tuples too); keep identity if no change."""
    if isinstance(value, Config):
        return value
    if isinstance(value, dict):
        out = Config()
        for k, v in value.items():
            dict.__setitem__(out, k, _convert(v))
        return out
    if isinstance(value, (list, tuple)):
        items = [_convert(v) for v in value]
        if all(a is b for a, b in zip(items, value)):
            return value
        if isinstance(value, list):
            return items
        if hasattr(value, "_fields"):  # namedtuple
            return type(value)(*items)
        return type(value)(items)
    return value


def _to_plain(value: Any) -> Any:
    """Deep copy of ``value`` with every Config replaced by a plain dict."""
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_plain(v) for v in value]
    if isinstance(value, tuple):
        items = [_to_plain(v) for v in value]
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
        dict.__setitem__(self, key, _convert(value))

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
        return _to_plain(self)

    def pretty_text(self) -> str:
        """Python source (``name = value`` lines) that :func:`load_config` reads back equal.

        Classes and functions used as values (``type=SomeClass``) are written as their
        ``"module:Name"`` string, which resolves to the same object.
        """
        return format_config(self)

    def dump(self, path: str | os.PathLike | None = None) -> str:
        """Write :meth:`pretty_text` to ``path`` (``.json`` writes JSON); return the text."""
        if path is not None and os.fspath(path).lower().endswith(".json"):
            text = json.dumps(self.to_dict(), indent=2, default=_json_default) + "\n"
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
        """MMEngine-style alias of :func:`load_config`."""
        return load_config(path, cfg_options)


def _rebuild_config(items: dict, attrs: dict) -> Config:
    cfg = Config()
    cfg.__dict__.update(attrs)
    for k, v in items.items():
        dict.__setitem__(cfg, k, v)
    return cfg


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, type) or callable(obj):
        return _object_ref(obj)
    return str(obj)


# ------------------------------------------------------------------------------------------
# pretty_text
# ------------------------------------------------------------------------------------------

_LINE_WIDTH = 100
_INDENT = 4


def _object_ref(obj: Any) -> str:
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if module and qualname and "<locals>" not in qualname:
        return f"{module}:{qualname}"
    return repr(obj)


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
        return repr(_object_ref(v))
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
    """Python source for a config: one ``name = value`` statement per top-level key."""
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


# ------------------------------------------------------------------------------------------
# cfg_options
# ------------------------------------------------------------------------------------------


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
    """``["a.b=1", ...]`` (or a dict of already-parsed values) -> ``[("a.b", 1), ...]``."""
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
    """Set ``value`` at ``segs`` below ``container``; return the (possibly new) container."""
    seg, rest = segs[0], segs[1:]
    here = ".".join(walked) or "the config"
    if isinstance(container, dict):
        if not rest:
            container[seg] = value
            return container
        child = container.get(seg)
        if child is None:
            child = Config()
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
                child = Config()
            new = _set_in(child, rest, value, key, [*walked, seg])
        else:
            new = _convert(value)
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


def _set_path(cfg: Config, key: str, value: Any) -> None:
    _set_in(cfg, key.split("."), value, key, [])


def apply_options(cfg: Config, options: Mapping[str, Any] | list[str] | None) -> Config:
    """Apply ``cfg_options`` to ``cfg`` in place (and return it).

    New keys are allowed at any level (``compile=True``, ``model.backbone.with_cp=True``);
    integer path parts index into lists and tuples.
    """
    for key, value in parse_options(options):
        _set_path(cfg, key, value)
    return cfg


# ------------------------------------------------------------------------------------------
# Merging
# ------------------------------------------------------------------------------------------


def _display_path(path: str | os.PathLike | None) -> str:
    if path is None:
        return "<config>"
    p = os.fspath(path)
    try:
        rel = os.path.relpath(p)
    except ValueError:
        return p
    return p if rel.startswith("..") else rel


def _join(prefix: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    return f"{prefix}.{key}" if prefix else str(key)


def _check_delete_flag(value: Any, where: str, src: str | None) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(
            f"{_display_path(src)}: {where}: {DELETE_KEY} must be True or False, got {value!r}"
        )
    return value


def _no_delete_in_list(value: Any, where: str, src: str | None) -> None:
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _no_delete_in_list(item, _join(where, i), src)
    elif isinstance(value, dict):
        if DELETE_KEY in value:
            raise ConfigError(
                f"{_display_path(src)}: {where}: {DELETE_KEY} inside a list has no effect: a list "
                f"in a child config replaces the base list as a whole (items are not merged). "
                f"Remove {DELETE_KEY} and write the full list."
            )
        for k, v in value.items():
            _no_delete_in_list(v, _join(where, k), src)


def _strip_delete(value: Any, where: str, src: str | None) -> Any:
    """Remove ``_delete_`` flags from a dict that has nothing to merge into."""
    if isinstance(value, dict):
        if DELETE_KEY in value:
            _check_delete_flag(value[DELETE_KEY], where, src)
            value = Config(value)
            dict.pop(value, DELETE_KEY)
        for k, v in list(value.items()):
            nv = _strip_delete(v, _join(where, k), src)
            if nv is not v:
                dict.__setitem__(value, k, nv)
        return value
    if isinstance(value, (list, tuple)):
        _no_delete_in_list(value, where, src)
    return value


def merge_configs(
    child: Mapping, base: Mapping, *, prefix: str = "", src: str | None = None
) -> Config:
    """Merge ``child`` on top of ``base`` (neither is modified) as ``_base_`` inheritance does.

    Dicts merge key by key; lists and other values replace; a child dict with
    ``_delete_=True`` replaces the base value instead of merging into it.
    """
    out = Config(base) if isinstance(base, Config) else _convert(dict(base))
    if isinstance(child, Config) and child.__dict__.get("_source"):
        out.__dict__["_source"] = child.__dict__["_source"]
    for k, v in child.items():
        where = _join(prefix, k)
        if isinstance(v, dict):
            delete = False
            if DELETE_KEY in v:
                delete = _check_delete_flag(v[DELETE_KEY], where, src)
                v = Config(v)
                dict.pop(v, DELETE_KEY)
            if not delete and isinstance(out.get(k), dict):
                out[k] = merge_configs(v, out[k], prefix=where, src=src)
            else:
                out[k] = _strip_delete(v, where, src)
        else:
            _no_delete_in_list(v, where, src)
            out[k] = v
    return out


# ------------------------------------------------------------------------------------------
# Reading files
# ------------------------------------------------------------------------------------------

_BASE_REF_RE = re.compile(r"\{\{\s*" + BASE_KEY + r"\.([\w.]+?)\s*\}\}")
_ENV_RE = re.compile(r"\{\{\s*['\"]?\s*\$(\w+)\s*(?::\s*(.*?))?\s*['\"]?\s*\}\}")


def _substitute_predefined(src: str, path: str) -> str:
    dirname = os.path.dirname(path)
    basename = os.path.basename(path)
    values = {
        "fileDirname": dirname,
        "fileBasename": basename,
        "fileBasenameNoExtension": os.path.splitext(basename)[0],
        "fileExtname": os.path.splitext(path)[1],
    }
    for key, value in values.items():
        src = re.sub(r"\{\{\s*" + key + r"\s*\}\}", value.replace("\\", "/"), src)
    return src


def _substitute_env(src: str, path: str) -> str:
    def repl(m: re.Match) -> str:
        name, default = m.group(1), m.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        line = src.count("\n", 0, m.start()) + 1
        raise ConfigError(
            f"{_display_path(path)}:{line}: environment variable {name} is not set and "
            f"{m.group(0)} gives no default (write {{{{${name}:default}}}})"
        )

    return _ENV_RE.sub(repl, src)


def _base_ref_expr(dotted: str) -> str:
    return BASE_KEY + "".join(
        f"[{seg}]" if seg.lstrip("-").isdigit() else f"[{seg!r}]" for seg in dotted.split(".")
    )


def _resolve_base_path(entry: Any, including: str) -> str:
    if not isinstance(entry, (str, os.PathLike)):
        raise ConfigError(
            f"{_display_path(including)}: {BASE_KEY} entries must be file paths (strings), "
            f"got {entry!r}"
        )
    entry = os.fspath(entry)
    if "::" in entry:
        scope, _, rel = entry.partition("::")
        if scope not in _PACKAGE_SCOPES:
            raise ConfigError(
                f"{_display_path(including)}: {BASE_KEY} entry {entry!r}: unknown package "
                f"{scope!r} (vidlab can read {', '.join(s + '::' for s in _PACKAGE_SCOPES)})"
            )
        candidate = str(_PACKAGE_CONFIG_ROOT / rel)
    else:
        candidate = os.path.expanduser(entry)
        if not os.path.isabs(candidate):
            candidate = os.path.join(os.path.dirname(including), candidate)
    candidate = os.path.normpath(os.path.abspath(candidate))
    if not os.path.isfile(candidate):
        msg = (
            f"{_display_path(including)}: {BASE_KEY} file {entry!r} not found "
            f"(looked for {candidate})"
        )
        msg += _close_file_hint(candidate)
        raise ConfigError(msg)
    return candidate


def _close_file_hint(path: str) -> str:
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        return f"; the folder {folder} does not exist either"
    names = [n for n in os.listdir(folder) if not n.startswith(".")]
    close = difflib.get_close_matches(os.path.basename(path), names, n=3, cutoff=0.6)
    if close:
        return "; did you mean " + " or ".join(repr(c) for c in close) + "?"
    return ""


def _syntax_error(e: SyntaxError, path: str, lines: list[str]) -> ConfigError:
    lineno = e.lineno or 0
    msg = f"{_display_path(path)}:{lineno}: syntax error in config: {e.msg}"
    if 1 <= lineno <= len(lines):
        raw = lines[lineno - 1].rstrip("\n")
        stripped = raw.lstrip()
        msg += f"\n    {stripped}"
        if e.offset:
            caret = max(e.offset - 1 - (len(raw) - len(stripped)), 0)
            msg += "\n    " + " " * caret + "^"
    return ConfigError(msg)


def _exec_error(e: BaseException, path: str, lines: list[str], base: Config) -> ConfigError:
    lineno = None
    tb = e.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == path:
            lineno = tb.tb_lineno
        tb = tb.tb_next
    where = f"{_display_path(path)}:{lineno}" if lineno else _display_path(path)
    msg = f"{where}: error while running the config file: {type(e).__name__}: {e}"
    if lineno and 1 <= lineno <= len(lines):
        msg += f"\n    {lines[lineno - 1].strip()}"
    name = getattr(e, "name", None)
    if isinstance(e, ModuleNotFoundError) and name and name.split(".")[0] in _OPENMMLAB:
        msg += (
            "\n  (vidlab reads MMAction2 configs without OpenMMLab packages: remove the import "
            "and write types as names, e.g. type='Recognizer2D')"
        )
    if isinstance(e, NameError) and name and name in base:
        msg += (
            f"\n  ({name!r} comes from a {BASE_KEY} file: inside this file write "
            f"{BASE_KEY}.{name} or {{{{{BASE_KEY}.{name}}}}})"
        )
    return ConfigError(msg)


def _literal_base(node: ast.AST, path: str, src: str) -> Any:
    try:
        return ast.literal_eval(node)
    except ValueError:
        pass
    # A computed _base_ (e.g. os.path.join(...)): evaluate just that expression.
    expr = ast.Expression(body=node)
    ast.fix_missing_locations(expr)
    ns = {"__file__": path, "__builtins__": builtins, "os": os}
    try:
        return eval(compile(expr, path, "eval"), ns)  # noqa: S307 - configs are Python by design
    except Exception as e:  # noqa: BLE001
        raise ConfigError(
            f"{_display_path(path)}:{node.lineno}: cannot evaluate {BASE_KEY}: "
            f"{type(e).__name__}: {e} (write a string or a list of strings)"
        ) from None


def _uses_read_base(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.With):
            for item in node.items:
                ctx = item.context_expr
                if (
                    isinstance(ctx, ast.Call)
                    and getattr(ctx.func, "id", getattr(ctx.func, "attr", None)) == "read_base"
                ):
                    return True
    return False


def _stamp_source(value: Any, src: str) -> None:
    """Record which file a node came from (for messages); nodes copied from a base keep theirs."""
    if isinstance(value, Config):
        if "_source" not in value.__dict__:
            value.__dict__["_source"] = src
        for v in value.values():
            _stamp_source(v, src)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _stamp_source(v, src)


def _merge_bases(entries: Any, path: str, stack: tuple[str, ...]) -> Config:
    if entries is None:
        return Config()
    if isinstance(entries, (str, os.PathLike)):
        entries = [entries]
    if not isinstance(entries, (list, tuple)):
        raise ConfigError(
            f"{_display_path(path)}: {BASE_KEY} must be a path or a list of paths, got {entries!r}"
        )
    merged = Config()
    for entry in entries:
        base_path = _resolve_base_path(entry, path)
        merged = merge_configs(_load_file(base_path, stack), merged, src=base_path)
    return merged


def _load_py(path: str, stack: tuple[str, ...]) -> Config:
    original = Path(path).read_text(encoding="utf-8")
    lines = original.splitlines()
    src = _substitute_predefined(original, path)
    src = _substitute_env(src, path)
    src = _BASE_REF_RE.sub(lambda m: _base_ref_expr(m.group(1)), src)
    try:
        tree = ast.parse(src, filename=path)
    except SyntaxError as e:
        raise _syntax_error(e, path, lines) from None
    if _uses_read_base(tree):
        raise ConfigError(
            f"{_display_path(path)}: pure-Python-style configs (`with read_base(): from ... import *`) "
            f"are not supported; use the classic form `{BASE_KEY} = ['path/to/base.py', ...]`"
        )
    entries = None
    body = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if any(isinstance(t, ast.Name) and t.id == BASE_KEY for t in targets):
            entries = _literal_base(node.value, path, src)
            continue
        if any(isinstance(t, ast.Name) and t.id == DELETE_KEY for t in targets):
            raise ConfigError(
                f"{_display_path(path)}:{node.lineno}: a top-level {DELETE_KEY} is not supported; "
                f"put {DELETE_KEY}=True inside the dict that should replace its base, e.g. "
                f"model = dict({DELETE_KEY}=True, type=...)"
            )
        body.append(node)
    tree.body = body
    base = _merge_bases(entries, path, stack)
    code = compile(tree, path, "exec")
    ns: dict[str, Any] = {
        "__file__": path,
        "__name__": "__vidlab_config__",
        "__builtins__": builtins,
        BASE_KEY: base,
    }
    try:
        exec(code, ns)  # noqa: S102 - a config file is Python by design
    except Exception as e:  # noqa: BLE001
        raise _exec_error(e, path, lines, base) from None
    own = Config()
    for k, v in ns.items():
        if k.startswith("_") or not isinstance(v, _PLAIN_DATA):
            continue
        own[k] = copy.deepcopy(v)
    own.__dict__["_source"] = path
    _stamp_source(own, path)
    return merge_configs(own, base, src=path)


_PLACEHOLDER = "__vidlab_base_ref__:"


def _replace_placeholders(value: Any, base: Config, path: str) -> Any:
    if isinstance(value, str) and value.startswith(_PLACEHOLDER):
        dotted = value[len(_PLACEHOLDER) :]
        cur: Any = base
        for seg in dotted.split("."):
            try:
                cur = cur[int(seg)] if isinstance(cur, (list, tuple)) else cur[seg]
            except (KeyError, IndexError, ValueError, TypeError):
                raise ConfigError(
                    f"{_display_path(path)}: {{{{{BASE_KEY}.{dotted}}}}}: the base config has no {dotted!r}"
                ) from None
        return copy.deepcopy(cur)
    if isinstance(value, dict):
        return {k: _replace_placeholders(v, base, path) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_placeholders(v, base, path) for v in value]
    return value


def _load_data_file(path: str, stack: tuple[str, ...]) -> Config:
    text = Path(path).read_text(encoding="utf-8")
    text = _substitute_predefined(text, path)
    text = _substitute_env(text, path)
    text = re.sub(
        r"['\"]?\{\{\s*" + BASE_KEY + r"\.([\w.]+?)\s*\}\}['\"]?",
        lambda m: json.dumps(_PLACEHOLDER + m.group(1)),
        text,
    )
    if path.lower().endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{_display_path(path)}:{e.lineno}: invalid JSON: {e.msg}") from None
    else:
        try:
            import yaml
        except ImportError:
            raise ConfigError(
                f"{_display_path(path)}: reading YAML configs needs PyYAML (pip install pyyaml)"
            ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ConfigError(f"{_display_path(path)}: invalid YAML: {e}") from None
    data = data or {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{_display_path(path)}: the top level must be a mapping of names to values"
        )
    base = _merge_bases(data.pop(BASE_KEY, None), path, stack)
    data = _replace_placeholders(data, base, path)
    own = _convert(data)
    own.__dict__["_source"] = path
    _stamp_source(own, path)
    return merge_configs(own, base, src=path)


def _load_file(path: str, stack: tuple[str, ...] = ()) -> Config:
    path = os.path.normpath(os.path.abspath(path))
    if path in stack:
        chain = " -> ".join(_display_path(p) for p in (*stack[stack.index(path) :], path))
        raise ConfigError(f"{BASE_KEY} cycle: {chain}")
    stack = (*stack, path)
    ext = os.path.splitext(path)[1].lower()
    if ext == ".py":
        return _load_py(path, stack)
    if ext in (".json", ".yaml", ".yml"):
        return _load_data_file(path, stack)
    raise ConfigError(
        f"{_display_path(path)}: unsupported config file type {ext or '(no extension)'!r}; "
        "use .py (or .json / .yaml)"
    )


# ------------------------------------------------------------------------------------------
# Entry point
# ------------------------------------------------------------------------------------------


def load_config(
    path: str | os.PathLike | Mapping, cfg_options: Mapping[str, Any] | list[str] | None = None
) -> Config:
    """Read a config file (or take a dict), merge its ``_base_`` files, upgrade MMAction2 0.x
    keys (see :func:`vidlab.compat.upgrade_config`; the notes land in ``cfg._upgrade_notes``),
    then apply ``cfg_options``. Every problem is a :class:`ConfigError` with a short message.
    """
    if isinstance(path, Mapping):
        data = dict(path)
        filename = path.__dict__.get("filename") if isinstance(path, Config) else None
        entries = data.pop(BASE_KEY, None)
        here = filename or os.path.join(os.getcwd(), "<dict>")
        base = _merge_bases(entries, here, ()) if entries is not None else Config()
        cfg = merge_configs(_convert(copy.deepcopy(data)), base, src=filename)
        cfg.__dict__.pop("_source", None)
        if filename:
            cfg.__dict__["filename"] = filename
    else:
        given = os.fspath(path)
        abspath = os.path.normpath(os.path.abspath(os.path.expanduser(given)))
        if os.path.isdir(abspath):
            raise ConfigError(f"config path {given} is a folder, not a config file")
        if not os.path.isfile(abspath):
            raise ConfigError(
                f"config file not found: {given} (looked for {abspath})" + _close_file_hint(abspath)
            )
        cfg = _load_file(abspath)
        cfg.__dict__["filename"] = abspath

    from vidlab.compat import OLD_KEYS, upgrade_config

    options = parse_options(cfg_options)
    # Options that address 0.x keys (data.videos_per_gpu=...) apply before the upgrade.
    early = [k.split(".")[0] in OLD_KEYS and k.split(".")[0] in cfg for k, _ in options]
    for (k, v), first in zip(options, early):
        if first:
            _set_path(cfg, k, v)
    cfg, notes = upgrade_config(cfg)
    for (k, v), first in zip(options, early):
        if not first:
            _set_path(cfg, k, v)
    cfg.__dict__["_upgrade_notes"] = list(notes)
    return cfg
