"""From config nodes to objects: ``resolve_type``, ``build`` and ``validate``.

A *node* is a dict with a ``type`` key: a class or function object, a short name listed in
:data:`vidlab.config.names.NAMES` (``'ResNet'``, also with an MMEngine scope prefix such as
``'mmaction.ResNet'``), an MMAction2 0.x name listed in :data:`vidlab.compat.ALIASES`,
``'pkg.mod:Name'`` or a dotted path ``'pkg.mod.Name'``. Nothing registers itself; the module
behind a name is imported when the name is first used.
"""

from __future__ import annotations

import difflib
import fnmatch
import functools
import importlib
import inspect
import re
from collections.abc import Mapping
from typing import Any

from vidlab.config.errors import ConfigError, display_path, join_key
from vidlab.config.names import NAMES
from vidlab.config.types import Config

__all__ = [
    "resolve_type",
    "build",
    "validate",
    "find_problems",
    "is_node",
    "LAZY_KEYS",
    "DEFAULT_INJECTED",
    "SCOPE_PREFIXES",
]

# MMEngine scope prefixes written in some MMAction2 1.x configs (``type='mmaction.Recognizer2D'``).
SCOPE_PREFIXES = ("mmaction.", "mmengine.", "mmdet.", "mmpose.", "mmcv.", "mmpretrain.", "mmcls.")

# Keys whose dicts are layer specs of MMCV (``norm_cfg=dict(type='BN3d')``) or init specs: their
# ``type`` is not a vidlab component name. They are never built recursively nor validated as
# components; a class lists further keys of its own in ``_lazy_args``.
LAZY_KEYS = frozenset(
    {"norm_cfg", "conv_cfg", "act_cfg", "init_cfg", "upsample_cfg", "plugins", "dcn", "_scope_"}
)

# Key-path patterns -> constructor arguments the engine supplies (so they are not "missing").
# ``*`` matches one part of a key path (a key or a list index), ``**`` any number of parts.
DEFAULT_INJECTED: dict[str, tuple[str, ...]] = {
    "optim_wrapper.optimizer": ("params",),
    "param_scheduler": ("optimizer",),
    "param_scheduler.*": ("optimizer",),
    "*.sampler": ("dataset",),
    "*.batch_sampler": ("sampler", "dataset"),
    "train_cfg": ("runner", "dataloader"),
    "val_cfg": ("runner", "dataloader", "evaluator"),
    "test_cfg": ("runner", "dataloader", "evaluator"),
    "visualizer.vis_backends.*": ("save_dir",),
    "vis_backends.*": ("save_dir",),
}

# Key-path patterns -> keys of the node that the engine reads itself before calling the
# constructor (MMEngine pops them), so they are not "unexpected".
_ENGINE_CONSUMED: dict[str, tuple[str, ...]] = {
    "optim_wrapper": ("constructor", "paramwise_cfg"),
    "param_scheduler": ("convert_to_iter_based",),
    "param_scheduler.*": ("convert_to_iter_based",),
    "default_hooks.*": ("priority",),
    "custom_hooks.*": ("priority",),
}

# Top-level keys that are plain settings, never component nodes.
_SKIP_TOP = frozenset(
    {
        "default_scope",
        "env_cfg",
        "custom_imports",
        "randomness",
        "log_level",
        "auto_scale_lr",
        "launcher",
        "work_dir",
        "load_from",
        "resume",
        "dist_params",
        "file_client_args",
    }
)


# ------------------------------------------------------------------------------------------
# resolve_type
# ------------------------------------------------------------------------------------------


class _TypeProblem(Exception):
    """A type that cannot be resolved; the message has no file/key-path prefix yet."""


def _where(key_path: str, filename: str | None) -> str:
    parts = []
    if filename:
        parts.append(display_path(filename))
    if key_path:
        parts.append(key_path)
    return "".join(p + ": " for p in parts)


def _aliases() -> dict[str, str]:
    try:
        from vidlab.compat import ALIASES
    except ImportError:  # pragma: no cover - compat is part of the package
        return {}
    return ALIASES


def _known_names() -> list[str]:
    return [*NAMES, *_aliases()]


def did_you_mean(name: str, candidates: list[str] | tuple[str, ...], n: int = 3) -> list[str]:
    """Close matches of ``name`` among ``candidates`` (case-insensitive)."""
    lower: dict[str, str] = {}
    for c in candidates:
        lower.setdefault(c.lower(), c)
    if name.lower() in lower and lower[name.lower()] != name:
        return [lower[name.lower()]]
    close = difflib.get_close_matches(name.lower(), list(lower), n=n, cutoff=0.6)
    return [lower[c] for c in close]


def _suggest(name: str, candidates) -> str:
    close = did_you_mean(name, list(candidates))
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def _lookup(name: str) -> tuple[str, str] | None:
    """A known short name (maybe scoped or a 0.x alias) -> (shown name, 'module:attr')."""
    aliases = _aliases()
    candidates = [name]
    for prefix in SCOPE_PREFIXES:
        if name.startswith(prefix):
            candidates.append(name[len(prefix) :])
    for cand in candidates:
        if cand in NAMES:
            return cand, NAMES[cand]
        if cand in aliases:
            new = aliases[cand]
            if new in NAMES:
                return new, NAMES[new]
            if ":" in new:
                return new, new
    return None


def _import_hint(e: BaseException, module: str) -> str:
    if isinstance(e, ModuleNotFoundError) and e.name:
        missing = e.name
        if module == missing or module.startswith(missing + "."):
            if missing.startswith("vidlab"):
                return " (this part of vidlab is not available in this installation)"
            return f" (module {missing!r} does not exist)"
        top = missing.split(".")[0]
        if top == "vidlab":
            return f" (vidlab module {missing!r}, which it needs, is not available)"
        return f" (it needs the package {top!r}, which is not installed: pip install {top})"
    return ""


def _import_attr(target: str, shown: str) -> Any:
    module_name, _, qualname = target.partition(":")
    if not module_name or not qualname:
        raise _TypeProblem(f"type {shown!r}: {target!r} is not of the form 'package.module:Name'")
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as e:  # noqa: BLE001 - any import failure is reported with its cause
        raise _TypeProblem(
            f"type {shown!r} lives in module {module_name} ({target}), and importing it failed: "
            f"{type(e).__name__}: {e}{_import_hint(e, module_name)}"
        ) from e
    for part in qualname.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise _TypeProblem(
                f"type {shown!r}: module {module_name} has no attribute {qualname!r}"
            ) from None
    return obj


def _import_dotted(name: str) -> Any | None:
    """'pkg.mod.Name' -> the object, or None if no prefix of it is an importable module."""
    parts = name.split(".")
    for i in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:i])
        try:
            obj: Any = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name and (module_name == e.name or module_name.startswith(e.name + ".")):
                continue  # this prefix is not a module: try a shorter one
            raise _TypeProblem(
                f"type {name!r}: importing module {module_name} failed: "
                f"{type(e).__name__}: {e}{_import_hint(e, module_name)}"
            ) from e
        except Exception as e:  # noqa: BLE001
            raise _TypeProblem(
                f"type {name!r}: importing module {module_name} failed: {type(e).__name__}: {e}"
            ) from e
        for part in parts[i:]:
            try:
                obj = getattr(obj, part)
            except AttributeError:
                raise _TypeProblem(
                    f"type {name!r}: module {module_name} has no attribute {'.'.join(parts[i:])!r}"
                ) from None
        return obj
    return None


def _resolve(t: Any) -> Any:
    if isinstance(t, str):
        name = t.strip()
        if not name:
            raise _TypeProblem("type is an empty string")
        found = _lookup(name)
        if found is not None:
            return _import_attr(found[1], name)
        if ":" in name:
            return _import_attr(name, name)
        if "." in name:
            obj = _import_dotted(name)
            if obj is not None:
                return obj
            short = name.rsplit(".", 1)[1]
            raise _TypeProblem(
                f"unknown type {name!r}: not a vidlab name and no module of that dotted path "
                f"can be imported{_suggest(short, _known_names())}"
            )
        raise _TypeProblem(f"unknown type {name!r}{_suggest(name, _known_names())}")
    if callable(t):
        return t
    raise _TypeProblem(f"type must be a class, a function or a name string, not {t!r}")


def resolve_type(t: Any, key_path: str = "", filename: str | None = None) -> Any:
    """The class or function that a config ``type`` names.

    ``t`` may be a class/function object (returned as is), ``'pkg.mod:Name'``, a dotted path
    ``'pkg.mod.Name'``, a short name of ``NAMES`` (also with a scope prefix such as
    ``'mmaction.'``) or an MMAction2 0.x alias. Unknown names and failed imports raise
    :class:`ConfigError` naming the file, the key path, the name, the module and the cause.
    """
    try:
        return _resolve(t)
    except _TypeProblem as p:
        raise ConfigError(_where(key_path, filename) + str(p)) from p.__cause__


# ------------------------------------------------------------------------------------------
# build
# ------------------------------------------------------------------------------------------


def is_node(value: Any) -> bool:
    """A dict with a ``type`` that is a name or a class/function."""
    if not isinstance(value, Mapping) or "type" not in value:
        return False
    t = value["type"]
    return isinstance(t, str) or callable(t)


def _type_name(t: Any) -> str:
    if isinstance(t, str):
        return t
    return getattr(t, "__qualname__", None) or getattr(t, "__name__", None) or repr(t)


def _source_of(node: Any, default: str | None = None) -> str | None:
    if isinstance(node, Config):
        return node.__dict__.get("_source") or node.__dict__.get("filename") or default
    return default


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
    filename = _source_of(node, filename)
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
        note = f"while building {where} ({_type_name(t)})"
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

    An exception raised by a constructor propagates unchanged, with a note naming the key path,
    the type and the config file.
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
            f"{_where(key_path, _source_of(node))}cannot build a dict without a 'type' "
            f"(its keys: {keys})"
        )
    return _build_node(node, key_path, None, injected)


# ------------------------------------------------------------------------------------------
# validate
# ------------------------------------------------------------------------------------------


def _path_parts(path: str) -> list[str]:
    return [p for p in re.split(r"[.\[\]]+", path) if p]


def _match_parts(pattern: list[str], parts: list[str]) -> bool:
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_match_parts(pattern[1:], parts[i:]) for i in range(len(parts) + 1))
    return (
        bool(parts)
        and fnmatch.fnmatchcase(parts[0], pattern[0])
        and _match_parts(pattern[1:], parts[1:])
    )


def _matching(table: Mapping[str, Any], path: str) -> set[str]:
    parts = _path_parts(path)
    names: set[str] = set()
    for pattern, values in table.items():
        if _match_parts(_path_parts(pattern), parts):
            names.update([values] if isinstance(values, str) else values)
    return names


def _short(value: Any, limit: int = 80) -> str:
    r = repr(value)
    return r if len(r) <= limit else r[: limit - 3] + "..."


def _is_terminal_init(klass: type) -> bool:
    """Classes whose ``__init__(*args, **kwargs)`` rejects unknown keywords."""
    if klass is object:
        return True
    return klass.__name__ == "Module" and klass.__module__ == "torch.nn.modules.module"


_INIT_CALL = re.compile(r"(?:super\s*\([^)]*\)|\b[A-Za-z_]\w*)\s*\.\s*__init__\s*\(")


def _forwards(src: str, varkw: str) -> bool:
    """Does this ``__init__`` source pass ``**varkw`` on to a base class ``__init__``?"""
    for m in _INIT_CALL.finditer(src):
        depth, i = 1, m.end()
        while i < len(src) and depth:
            depth += {"(": 1, ")": -1}.get(src[i], 0)
            i += 1
        if re.search(r"\*\*\s*" + re.escape(varkw) + r"\b", src[m.end() : i]):
            return True
    return False


@functools.lru_cache(maxsize=512)
def _accepted_keywords(target: Any) -> tuple[str, ...] | None:
    """The keywords a class accepts, following ``**kwargs`` that are forwarded to
    ``super().__init__`` along the MRO; None when it accepts any keyword."""
    kinds = inspect.Parameter
    accepted: list[str] = []
    if not isinstance(target, type):
        sig = inspect.signature(target)
        if any(p.kind is kinds.VAR_KEYWORD for p in sig.parameters.values()):
            return None
        return tuple(
            n
            for n, p in sig.parameters.items()
            if p.kind in (kinds.POSITIONAL_OR_KEYWORD, kinds.KEYWORD_ONLY)
        )
    for klass in target.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        if _is_terminal_init(klass):
            return tuple(dict.fromkeys(accepted))
        try:
            params = list(inspect.signature(init).parameters.values())[1:]  # drop self
        except (TypeError, ValueError):
            return None
        accepted += [
            p.name for p in params if p.kind in (kinds.POSITIONAL_OR_KEYWORD, kinds.KEYWORD_ONLY)
        ]
        varkw = next((p.name for p in params if p.kind is kinds.VAR_KEYWORD), None)
        if varkw is None:
            return tuple(dict.fromkeys(accepted))
        try:
            src = inspect.getsource(init)
        except (OSError, TypeError):
            return None
        # kwargs.pop('x') / kwargs.get('x') / kwargs['x'] read keywords themselves
        accepted += re.findall(
            re.escape(varkw) + r"""\s*(?:\.\s*(?:pop|get|setdefault)\s*\(\s*|\[\s*)['"](\w+)['"]""",
            src,
        )
        if not _forwards(src, varkw):
            return None  # keeps or ignores unknown keywords: anything goes
    return tuple(dict.fromkeys(accepted))


def _check_node(node: Mapping, path: str, injected: Mapping, report) -> None:
    t = node["type"]
    tname = _type_name(t)
    try:
        target = _resolve(t)
    except _TypeProblem as p:
        report(node, path, str(p))
        return
    if not callable(target):
        report(node, path, f"type {tname!r} names {_short(target)}, which cannot be called")
        return
    if not isinstance(t, str) or ":" in t or "." in t:
        tname = _type_name(target)  # 'pkg.mod:Name' -> 'Name'
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return  # a builtin without a signature: nothing to check
    params = sig.parameters
    kinds = inspect.Parameter
    by_keyword = [
        n for n, p in params.items() if p.kind in (kinds.POSITIONAL_OR_KEYWORD, kinds.KEYWORD_ONLY)
    ]
    try:
        accepted = _accepted_keywords(target)
    except (TypeError, ValueError):
        accepted = None
    if accepted is not None:
        accepted = tuple(dict.fromkeys([*by_keyword, *accepted]))
    consumed = {"type", "_scope_"} | _matching(_ENGINE_CONSUMED, path)
    for key in node:
        if key in consumed or key in by_keyword:
            continue
        if key in params and params[key].kind is kinds.POSITIONAL_ONLY:
            report(
                node,
                path,
                f"{tname}: argument {key!r} is positional-only and cannot be set in a config",
            )
        elif accepted is not None and key not in accepted:
            msg = f"{tname} got an unexpected keyword {key!r}"
            close = did_you_mean(str(key), list(accepted))
            if close:
                msg += f"; did you mean {' or '.join(repr(c) for c in close)}?"
            elif accepted:
                shown = ", ".join(accepted[:15]) + (", ..." if len(accepted) > 15 else "")
                msg += f" (it takes: {shown})"
            else:
                msg += " (it takes no keyword arguments)"
            report(node, path, msg)
    supplied = _matching(injected, path) | set(getattr(target, "_injected_args", ()) or ())
    for name, p in params.items():
        if p.kind in (kinds.VAR_POSITIONAL, kinds.VAR_KEYWORD) or p.default is not p.empty:
            continue
        if name in node or name in supplied:
            continue
        report(node, path, f"{tname} is missing required argument {name!r}")


def find_problems(cfg: Mapping, injected: Mapping[str, Any] | None = None) -> list[str]:
    """Every problem :func:`validate` would report, one line each (``file: key.path: message``)."""
    table: dict[str, Any] = dict(DEFAULT_INJECTED)
    for k, v in (injected or {}).items():
        table[k] = tuple(table.get(k, ())) + (tuple([v]) if isinstance(v, str) else tuple(v))
    root_file = _source_of(cfg, getattr(cfg, "filename", None) if isinstance(cfg, Config) else None)

    found: dict[tuple, list[str]] = {}  # (file, message, node text) -> key paths

    def report(node: Mapping, path: str, message: str) -> None:
        src = _source_of(node, root_file)
        key = (src, message, _short(dict(node) if isinstance(node, Mapping) else node, 10_000))
        found.setdefault(key, []).append(path)

    def walk(value: Any, path: str) -> None:
        if isinstance(value, Mapping):
            if is_node(value):
                _check_node(value, path, table, report)
            for k, v in value.items():
                if k in ("type", "_scope_") or k in LAZY_KEYS or (not path and k in _SKIP_TOP):
                    continue
                walk(v, join_key(path, k))
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                walk(v, join_key(path, i))

    walk(cfg, "")
    lines = []
    for (src, message, _), paths in found.items():
        line = f"{display_path(src) if src else '<config>'}: {paths[0] or '<top level>'}: {message}"
        if len(paths) > 1:
            line += f" (same at {', '.join(paths[1:])})"
        lines.append(line)
    return lines


def validate(cfg: Mapping, injected: Mapping[str, Any] | None = None) -> None:
    """Check every ``type`` node of ``cfg`` against its constructor; raise one ConfigError.

    Reported: unknown types (with "did you mean"), types whose module fails to import,
    unexpected keywords (with "did you mean" over the constructor's arguments) and missing
    required arguments. Arguments supplied by the engine are not required: those named by
    ``injected`` (key-path pattern -> names, added to :data:`DEFAULT_INJECTED`) and those listed
    in the class attribute ``_injected_args``. Dicts without a ``type`` are walked through but
    not checked (the engine reads them itself).
    """
    problems = find_problems(cfg, injected)
    if problems:
        filename = getattr(cfg, "filename", None) if isinstance(cfg, Config) else None
        n = len(problems)
        header = f"{n} problem{'s' if n != 1 else ''} in config {display_path(filename) if filename else '<config>'}:"
        raise ConfigError("\n".join([header, *("  " + p for p in problems)]), problems=problems)
