"""``validate``: every ``type`` node checked against its constructor's signature, all problems
reported at once, each with its file, key path and a "did you mean".

Which keywords a node may set is read off signatures only, never off source code:

- A function accepts the keywords it names; with ``**kwargs`` it accepts any keyword.
- A class accepts the keywords its ``__init__`` names. A ``**kwargs`` parameter of a class's
  ``__init__`` means "passed on to the parent class's ``__init__``": the keywords of the next
  ``__init__`` along the MRO are accepted too, and so on until an ``__init__`` without
  ``**kwargs``, or ``object`` / ``torch.nn.Module``, whose ``__init__`` rejects unknown keywords.
- A class that accepts arbitrary keywords on purpose (it stores or ignores them) says so with the
  class attribute ``_accepts_any_kwargs = True``; then any keyword passes wherever one of its
  ``__init__`` methods takes ``**kwargs``.

So a class that reads a keyword out of ``**kwargs`` (``kwargs.pop('x')``) must name it in its
signature instead, or ``x`` is reported as unexpected.
"""

from __future__ import annotations

import difflib
import fnmatch
import functools
import inspect
import re
import warnings
from collections.abc import Mapping
from typing import Any

from vidlab.config.errors import ConfigError, ConfigWarning, display_path, join_key
from vidlab.config.resolve import (
    LAZY_KEYS,
    TypeProblem,
    did_you_mean,
    is_node,
    resolve,
    source_of,
    type_name,
)
from vidlab.config.schema import check_pipeline, close_top_level_names, schema_problems
from vidlab.config.types import Config
from vidlab.config.values import annotations_of, defaults_to_none, value_problem

__all__ = ["DEFAULT_INJECTED", "ACCEPTS_ANY_KWARGS", "find_problems", "validate"]

# The class attribute that declares "this class accepts any keyword" (see the module docstring).
ACCEPTS_ANY_KWARGS = "_accepts_any_kwargs"

# Key-path patterns -> constructor arguments the engine supplies (so they are not "missing").
# ``*`` matches one part of a key path (a key or a list index), ``**`` any number of parts.
DEFAULT_INJECTED: dict[str, tuple[str, ...]] = {
    "optim_wrapper.optimizer": ("params",),
    "optimizer": ("params",),  # a 1.x config's variable that optim_wrapper refers to
    "param_scheduler": ("optimizer",),
    "param_scheduler.*": ("optimizer",),
    "*.sampler": ("dataset",),
    "train_cfg.other_loaders.*.sampler": ("dataset",),  # MultiLoaderEpochBasedTrainLoop's
    "*.batch_sampler": ("sampler", "dataset"),
    "*.collate_fn": ("batch",),  # called by the loader on each batch
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
        "load_from_strict",
        "resume",
        "dist_params",
        "file_client_args",
    }
)


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
    """Classes whose ``__init__(*args, **kwargs)`` rejects unknown keywords: the end of a
    ``**kwargs`` chain."""
    if klass is object:
        return True
    return klass.__name__ == "Module" and klass.__module__ == "torch.nn.modules.module"


def _keyword_names(params: list[inspect.Parameter]) -> list[str]:
    kinds = inspect.Parameter
    return [p.name for p in params if p.kind in (kinds.POSITIONAL_OR_KEYWORD, kinds.KEYWORD_ONLY)]


def _has_var_keyword(params: list[inspect.Parameter]) -> bool:
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def _declares_any_kwargs(klass: type) -> bool:
    return bool(getattr(klass, ACCEPTS_ANY_KWARGS, False))


@functools.lru_cache(maxsize=512)
def _accepted_keywords(target: Any) -> tuple[str, ...] | None:
    """The keywords ``target`` accepts, by the rules of the module docstring; None when it
    accepts any keyword."""
    if not isinstance(target, type):
        params = list(inspect.signature(target).parameters.values())
        return None if _has_var_keyword(params) else tuple(_keyword_names(params))
    any_kwargs = _declares_any_kwargs(target)
    accepted: list[str] = []
    for klass in target.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue  # inherits its __init__: the next class in the MRO has it
        if _is_terminal_init(klass):
            break
        try:
            params = list(inspect.signature(init).parameters.values())[1:]  # drop self
        except (TypeError, ValueError):
            return None  # an __init__ without a signature (C code): nothing to check against
        accepted += _keyword_names(params)
        if not _has_var_keyword(params):
            break
        if any_kwargs:
            return None
    return tuple(dict.fromkeys(accepted))


def _opener_taking(tname: str, key: str) -> str | None:
    """``XInit`` when ``tname`` is ``XDecode`` and ``XInit`` takes ``key``: MMAction2's configs
    pass ``io_backend`` to both steps (``dict(type='DecordDecode', **file_client_args)``)."""
    if not tname.endswith("Decode"):
        return None
    opener = tname[: -len("Decode")] + "Init"
    try:
        params = inspect.signature(resolve(opener)).parameters
    except (TypeProblem, TypeError, ValueError, ImportError):
        return None
    return opener if key in params else None


def _near(a: str, b: str) -> bool:
    return difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio() >= 0.85


def _all_named(target: Any) -> list[str]:
    """Every keyword named by ``target``'s signature (for a class: by each ``__init__`` of its
    MRO below ``object`` / ``nn.Module``)."""
    if not isinstance(target, type):
        try:
            return _keyword_names(list(inspect.signature(target).parameters.values()))
        except (TypeError, ValueError):
            return []
    names: list[str] = []
    for klass in target.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        if _is_terminal_init(klass):
            break
        try:
            names += _keyword_names(list(inspect.signature(init).parameters.values())[1:])
        except (TypeError, ValueError):
            break
    return list(dict.fromkeys(names))


def _check_values(node: Mapping, path: str, target: Any, tname: str, report, skip=()) -> None:
    """Values against the constructor's annotations and known choices (``depth`` of a class
    with ``arch_settings``)."""
    hints = annotations_of(target)
    none_ok = defaults_to_none(target)
    for key, value in node.items():
        if key in ("type", "_scope_") or key in LAZY_KEYS or key in skip:
            continue
        if value is None and key in none_ok:
            continue
        problem = value_problem(value, hints.get(key, Any))
        if problem is None and key == "depth" and isinstance(target, type):
            arch = getattr(target, "arch_settings", None)
            if isinstance(arch, Mapping) and value not in arch:
                problem = f"choose from {', '.join(str(k) for k in sorted(arch))}"
        if problem:
            report(node, path, f"{tname}: {key}={_short(value)}: {problem}")


def _check_node(
    node: Mapping, path: str, injected: Mapping, report, extra: tuple[str, ...] = ()
) -> None:
    t = node["type"]
    tname = type_name(t)
    try:
        target = resolve(t)
    except TypeProblem as p:
        report(node, path, str(p))
        return
    if not callable(target):
        report(node, path, f"type {tname!r} names {_short(target)}, which cannot be called")
        return
    if not isinstance(t, str) or ":" in t or "." in t:
        tname = type_name(target)  # 'pkg.mod:Name' -> 'Name'
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
    consumed = {"type", "_scope_", *extra} | _matching(_ENGINE_CONSUMED, path)
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
            opener = _opener_taking(tname, key)
            if opener:
                msg += (
                    f": it is an argument of {opener}, the step that opens the file; remove it "
                    f"here (MMAction2 1.2.0's {tname} does not take it either)"
                )
            elif close:
                msg += f"; did you mean {' or '.join(repr(c) for c in close)}?"
            elif accepted:
                shown = ", ".join(accepted[:15]) + (", ..." if len(accepted) > 15 else "")
                msg += f" (it takes: {shown})"
            else:
                msg += " (it takes no keyword arguments)"
            report(node, path, msg)
        elif accepted is None and key not in _all_named(target):
            # Taken by **kwargs and ignored: a near miss of a named argument is a typo.
            named = _all_named(target)
            close = [c for c in did_you_mean(str(key), named, n=1) if _near(str(key), c)]
            if close:
                report(
                    node,
                    path,
                    f"{tname}: {key!r} is not one of its arguments (it would be ignored); "
                    f"did you mean {close[0]!r}?",
                )
    supplied = _matching(injected, path) | set(getattr(target, "_injected_args", ()) or ())
    for name, p in params.items():
        if p.kind in (kinds.VAR_POSITIONAL, kinds.VAR_KEYWORD) or p.default is not p.empty:
            continue
        if name in node or name in supplied:
            continue
        report(node, path, f"{tname} is missing required argument {name!r}")
    _check_values(node, path, target, tname, report, skip=consumed)


def _unchecked_args(t: Any) -> tuple:
    """Arguments whose dicts name a ``type`` of the class's own choosing, not a component
    (class attribute ``_unchecked_args``): not checked as nodes."""
    try:
        return tuple(getattr(resolve(t), "_unchecked_args", ()) or ())
    except TypeProblem:
        return ()


def find_problems(cfg: Mapping, injected: Mapping[str, Any] | None = None) -> list[str]:
    """Every problem :func:`validate` would report, one line each (``file: key.path: message``).

    Args:
        cfg: The config (a :class:`~vidlab.config.Config` names the files of its nodes).
        injected: Key-path pattern -> names of arguments the caller supplies, added to
            :data:`DEFAULT_INJECTED`.

    Returns:
        The problems; empty when there are none. A problem found at several key paths (a
        pipeline reached twice) is one line that lists the other paths.
    """
    table: dict[str, Any] = dict(DEFAULT_INJECTED)
    for k, v in (injected or {}).items():
        table[k] = tuple(table.get(k, ())) + (tuple([v]) if isinstance(v, str) else tuple(v))
    root_file = source_of(cfg, getattr(cfg, "filename", None) if isinstance(cfg, Config) else None)

    found: dict[tuple, list[str]] = {}  # (file, message, node text) -> key paths

    def report(node: Mapping, path: str, message: str) -> None:
        src = source_of(node, root_file)
        key = (src, message, _short(dict(node) if isinstance(node, Mapping) else node, 10_000))
        found.setdefault(key, []).append(path)

    def check_as(node: Mapping, path: str, extra: tuple[str, ...] = (), source=None) -> None:
        def report_at(_node, p, message):
            report(source if source is not None else _node, p, message)

        _check_node(node, path, table, report_at, extra)

    def walk(value: Any, path: str) -> None:
        if isinstance(value, Mapping):
            own: tuple = ()
            if is_node(value):
                _check_node(value, path, table, report)
                if isinstance(value.get("pipeline"), (list, tuple)):
                    check_pipeline(value["pipeline"], join_key(path, "pipeline"), report)
                own = _unchecked_args(value["type"])
            for k, v in value.items():
                if k in ("type", "_scope_") or k in LAZY_KEYS or (not path and k in _SKIP_TOP):
                    continue
                if k in own:  # the class's own specs (FBOHead's fbo_cfg=dict(type='max'))
                    continue
                walk(v, join_key(path, k))
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                walk(v, join_key(path, i))

    walk(cfg, "")
    schema_problems(cfg, report, check_as)
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
    not checked (the engine reads them itself). The keywords a type accepts are read off
    signatures only: see this module's docstring.

    Args:
        cfg: The config.
        injected: As for :func:`find_problems`.

    Raises:
        ConfigError: Listing every problem, one per line; ``err.problems`` holds the lines.
    """
    filename = getattr(cfg, "filename", None) if isinstance(cfg, Config) else None
    for message in close_top_level_names(cfg):
        shown = display_path(filename) if filename else "<config>"
        warnings.warn(ConfigWarning(f"{shown}: {message}"), stacklevel=2)
    problems = find_problems(cfg, injected)
    if problems:
        n = len(problems)
        header = f"{n} problem{'s' if n != 1 else ''} in config {display_path(filename) if filename else '<config>'}:"
        raise ConfigError("\n".join([header, *("  " + p for p in problems)]), problems=problems)
