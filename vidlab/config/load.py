"""Loading MMAction2 1.x / MMEngine-style Python configs into a :class:`~vidlab.config.Config`.

A config file is plain Python. Its top-level names holding plain data (dict, list, tuple, str,
numbers, bool, None) become the keys of the config; modules, functions, classes and private
``_names`` are left out. ``_base_ = 'x.py'`` or ``_base_ = ['a.py', 'b.py']`` (relative to the
file) names files whose merged content is the starting point (two bases may not set the same
key, as in MMEngine), then the file's own keys merge on top, dict by dict (lists and other
values replace). ``_delete_=True``
inside a dict replaces the base dict instead of merging into it.

Inside a child file the merged base is available as ``_base_`` (``_base_.model.backbone.depth``)
and MMEngine's text form ``{{_base_.model}}`` works too, as do ``{{ fileDirname }}``-style
predefined variables and ``{{$ENV_VAR:default}}``. ``.json`` and ``.yaml`` configs (with
``_base_``) load as well.

After merging, an MMAction2 0.x config is upgraded by :mod:`vidlab.compat.mmaction0x` (the one
way this package depends on ``compat``), and ``cfg_options`` (``["a.b.c=value", ...]`` as the
CLI's ``--cfg-options``, see :mod:`vidlab.config.options`) are applied.
"""

from __future__ import annotations

import ast
import builtins
import copy
import difflib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vidlab.compat.mmaction0x import OLD_KEYS, upgrade_config
from vidlab.config.errors import ConfigError, display_path, join_key
from vidlab.config.options import parse_options, set_path
from vidlab.config.types import Config, to_config

__all__ = ["load_config", "merge_configs"]

BASE_KEY = "_base_"
DELETE_KEY = "_delete_"
# Where ``_base_ = 'vidlab::_base_/models/tsm_r50.py'`` (MMEngine's cross-package form) looks.
_PACKAGE_CONFIG_ROOT = Path(__file__).resolve().parent.parent / "configs"
# Scope prefixes of MMEngine's ``pkg::path`` form that map onto vidlab's shipped configs.
_PACKAGE_SCOPES = ("vidlab", "mmaction", "mmaction2")

# Top-level names the engine reads. A ``--cfg-options`` on any other top-level name that the
# config file used to build another value (``train_pipeline`` inside ``train_dataloader``)
# changes nothing: it is an error that names the key to set instead.
ENGINE_KEYS = frozenset(
    {
        "model", "train_dataloader", "val_dataloader", "test_dataloader", "train_cfg", "val_cfg",
        "test_cfg", "val_evaluator", "test_evaluator", "optim_wrapper", "param_scheduler",
        "default_hooks", "custom_hooks", "env_cfg", "randomness", "auto_scale_lr",
        "log_processor", "vis_backends", "visualizer", "log_level", "load_from", "resume",
        "work_dir", "default_scope", "launcher", "custom_imports", "synthetic_data", "compile",
        "channels_last", "amp", "find_unused_parameters", "sync_bn", "file_client_args",
        "dist_params",
    }
)  # fmt: skip

_OPENMMLAB = frozenset({"mmaction", "mmengine", "mmcv", "mmdet", "mmpose", "mmpretrain", "mmcls"})
_PLAIN_SCALARS = (str, int, float, bool, complex, bytes, type(None))
_PLAIN_DATA = (dict, list, tuple, set, frozenset, *_PLAIN_SCALARS)


# Merging --------------------------------------------------------------------------------------


def _check_delete_flag(value: Any, where: str, src: str | None) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(
            f"{display_path(src)}: {where}: {DELETE_KEY} must be True or False, got {value!r}"
        )
    return value


def _no_delete_in_list(value: Any, where: str, src: str | None) -> None:
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _no_delete_in_list(item, join_key(where, i), src)
    elif isinstance(value, dict):
        if DELETE_KEY in value:
            raise ConfigError(
                f"{display_path(src)}: {where}: {DELETE_KEY} inside a list has no effect: a list "
                f"in a child config replaces the base list as a whole (items are not merged). "
                f"Remove {DELETE_KEY} and write the full list."
            )
        for k, v in value.items():
            _no_delete_in_list(v, join_key(where, k), src)


def _strip_delete(value: Any, where: str, src: str | None) -> Any:
    """Remove ``_delete_`` flags from a dict that has nothing to merge into."""
    if isinstance(value, dict):
        if DELETE_KEY in value:
            _check_delete_flag(value[DELETE_KEY], where, src)
            value = Config(value)
            dict.pop(value, DELETE_KEY)
        for k, v in list(value.items()):
            nv = _strip_delete(v, join_key(where, k), src)
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

    Args:
        child: The keys that win.
        base: The keys they merge into.
        prefix: The key path of ``child`` and ``base`` in the whole config, for messages.
        src: The file ``child`` came from, for messages.

    Returns:
        A new Config.

    Raises:
        ConfigError: A ``_delete_`` that is not a bool, or one inside a list (where it would
            have no effect).
    """
    out = Config(base) if isinstance(base, Config) else to_config(dict(base))
    if isinstance(child, Config) and child.__dict__.get("_source"):
        out.__dict__["_source"] = child.__dict__["_source"]
    for k, v in child.items():
        where = join_key(prefix, k)
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


# Reading files --------------------------------------------------------------------------------

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
            f"{display_path(path)}:{line}: environment variable {name} is not set and "
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
            f"{display_path(including)}: {BASE_KEY} entries must be file paths (strings), "
            f"got {entry!r}"
        )
    entry = os.fspath(entry)
    if "::" in entry:
        scope, _, rel = entry.partition("::")
        if scope not in _PACKAGE_SCOPES:
            raise ConfigError(
                f"{display_path(including)}: {BASE_KEY} entry {entry!r}: unknown package "
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
            f"{display_path(including)}: {BASE_KEY} file {entry!r} not found "
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
    msg = f"{display_path(path)}:{lineno}: syntax error in config: {e.msg}"
    if 1 <= lineno <= len(lines):
        raw = lines[lineno - 1].rstrip("\n")
        stripped = raw.lstrip()
        msg += f"\n    {stripped}"
        if e.offset:
            caret = max(e.offset - 1 - (len(raw) - len(stripped)), 0)
            msg += "\n    " + " " * caret + "^"
    return ConfigError(msg)


def _exec_error(e: BaseException, path: str, lines: list[str], base: Config) -> ConfigError:
    """The ConfigError for an exception raised while ``path`` ran: file:line, the line's text
    and a hint for the usual mistakes. The caller chains it to ``e``."""
    lineno = None
    tb = e.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == path:
            lineno = tb.tb_lineno
        tb = tb.tb_next
    where = f"{display_path(path)}:{lineno}" if lineno else display_path(path)
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
    except Exception as e:  # noqa: BLE001 - the config's own code: report it with file:line
        raise ConfigError(
            f"{display_path(path)}:{node.lineno}: cannot evaluate {BASE_KEY}: "
            f"{type(e).__name__}: {e} (write a string or a list of strings)"
        ) from e


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
            f"{display_path(path)}: {BASE_KEY} must be a path or a list of paths, got {entries!r}"
        )
    merged = Config()
    owner: dict[str, str] = {}  # top-level key -> the base file that set it
    for entry in entries:
        base_path = _resolve_base_path(entry, path)
        loaded = _load_file(base_path, stack)
        for key in loaded:
            if key in owner:  # MMEngine refuses it too: which base wins is not defined
                raise ConfigError(
                    f"{display_path(path)}: {key!r} is set by two of its {BASE_KEY} files, "
                    f"{display_path(owner[key])} and {display_path(base_path)}; inherit it "
                    f"from one of them and set it in this file instead"
                )
            owner[key] = base_path
        refs = _merge_refs(merged.__dict__.get("_refs", {}), loaded.__dict__.get("_refs", {}))
        merged = merge_configs(loaded, merged, src=base_path)
        merged.__dict__["_refs"] = refs
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
            f"{display_path(path)}: pure-Python-style configs (`with read_base(): from ... import *`) "
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
                f"{display_path(path)}:{node.lineno}: a top-level {DELETE_KEY} is not supported; "
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
    except Exception as e:  # noqa: BLE001 - any error in a config file is reported with file:line
        # Chained, so the traceback still shows the original error and where it came from.
        raise _exec_error(e, path, lines, base) from e
    own = Config()
    for k, v in ns.items():
        if k.startswith("_") or not isinstance(v, _PLAIN_DATA):
            continue
        own[k] = copy.deepcopy(v)
    own.__dict__["_source"] = path
    _stamp_source(own, path)
    merged = merge_configs(own, base, src=path)
    merged.__dict__["_refs"] = _merge_refs(base.__dict__.get("_refs", {}), _references(tree))
    return merged


def _references(tree: ast.Module) -> dict[str, list[str]]:
    """Top-level name -> the top-level names whose values were computed from it."""
    refs: dict[str, list[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        names = [t.id for t in targets if isinstance(t, ast.Name)]
        used = {n.id for n in ast.walk(value) if isinstance(n, ast.Name)}
        for u in used:
            for t in names:
                if t != u and t not in refs.setdefault(u, []):
                    refs[u].append(t)
    return refs


def _merge_refs(a: Mapping, b: Mapping) -> dict[str, list[str]]:
    out = {k: list(v) for k, v in a.items()}
    for k, v in b.items():
        out.setdefault(k, [])
        out[k] += [t for t in v if t not in out[k]]
    return out


def _paths_of(value: Any, target: Any, path: str, out: list[str]) -> None:
    """Key paths below ``path`` whose value equals ``target``."""
    if value == target and path:
        out.append(path)
        return
    if isinstance(value, Mapping):
        for k, v in value.items():
            _paths_of(v, target, f"{path}.{k}" if path else str(k), out)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _paths_of(v, target, f"{path}.{i}", out)


def _check_no_op_option(cfg: Config, key: str) -> None:
    """A ``--cfg-options`` key on a helper variable already used by other keys: an error."""
    top, _, rest = key.partition(".")
    users = cfg.__dict__.get("_refs", {}).get(top)
    if not users or top in ENGINE_KEYS or top not in cfg:
        return
    paths: list[str] = []
    for user in users:
        if user in cfg and user != top:
            _paths_of(cfg[user], cfg[top], user, paths)
    if not paths:
        return
    instead = " and ".join(f"{p}.{rest}" if rest else p for p in paths)
    raise ConfigError(
        f"config option {key}=... changes nothing: {top!r} is a variable of the config file, "
        f"and its value was already copied into {', '.join(paths)} when the file ran (vidlab "
        f"reads those keys, not {top!r}); set {instead} instead"
    )


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
                    f"{display_path(path)}: {{{{{BASE_KEY}.{dotted}}}}}: the base config has no {dotted!r}"
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
            raise ConfigError(f"{display_path(path)}:{e.lineno}: invalid JSON: {e.msg}") from None
    else:
        try:
            import yaml
        except ImportError:
            raise ConfigError(
                f"{display_path(path)}: reading YAML configs needs PyYAML (pip install pyyaml)"
            ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ConfigError(f"{display_path(path)}: invalid YAML: {e}") from None
    data = data or {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{display_path(path)}: the top level must be a mapping of names to values"
        )
    base = _merge_bases(data.pop(BASE_KEY, None), path, stack)
    data = _replace_placeholders(data, base, path)
    own = to_config(data)
    own.__dict__["_source"] = path
    _stamp_source(own, path)
    return merge_configs(own, base, src=path)


def _load_file(path: str, stack: tuple[str, ...] = ()) -> Config:
    path = os.path.normpath(os.path.abspath(path))
    if path in stack:
        chain = " -> ".join(display_path(p) for p in (*stack[stack.index(path) :], path))
        raise ConfigError(f"{BASE_KEY} cycle: {chain}")
    stack = (*stack, path)
    ext = os.path.splitext(path)[1].lower()
    if ext == ".py":
        return _load_py(path, stack)
    if ext in (".json", ".yaml", ".yml"):
        return _load_data_file(path, stack)
    raise ConfigError(
        f"{display_path(path)}: unsupported config file type {ext or '(no extension)'!r}; "
        "use .py (or .json / .yaml)"
    )


# Entry point ----------------------------------------------------------------------------------


def load_config(
    path: str | os.PathLike | Mapping, cfg_options: Mapping[str, Any] | list[str] | None = None
) -> Config:
    """Read a config file (or take a dict), merge its ``_base_`` files, upgrade MMAction2 0.x
    keys (see :func:`vidlab.compat.upgrade_config`; the notes land in ``cfg._upgrade_notes``),
    then apply ``cfg_options``.

    Args:
        path: A ``.py``, ``.json`` or ``.yaml`` file, or a mapping (its ``_base_`` entries are
            relative to the working folder, or to its ``filename`` for a Config).
        cfg_options: ``["a.b.c=value", ...]`` as the CLI's ``--cfg-options``, or a dict of
            dotted keys to values. Options on 0.x keys apply before the upgrade.

    Returns:
        The config, with ``filename`` set for a file.

    Raises:
        ConfigError: Any problem, with a short message naming the file and line or key. An
            exception raised while a config file runs is chained as the cause.
    """
    if isinstance(path, Mapping):
        data = dict(path)
        filename = path.__dict__.get("filename") if isinstance(path, Config) else None
        entries = data.pop(BASE_KEY, None)
        here = filename or os.path.join(os.getcwd(), "<dict>")
        base = _merge_bases(entries, here, ()) if entries is not None else Config()
        cfg = merge_configs(to_config(copy.deepcopy(data)), base, src=filename)
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

    options = parse_options(cfg_options)
    for k, _ in options:
        _check_no_op_option(cfg, k)
    # Options that address 0.x keys (data.videos_per_gpu=...) apply before the upgrade.
    early = [k.split(".")[0] in OLD_KEYS and k.split(".")[0] in cfg for k, _ in options]
    for (k, v), first in zip(options, early):
        if first:
            set_path(cfg, k, v)
    cfg, notes = upgrade_config(cfg)
    for (k, v), first in zip(options, early):
        if not first:
            set_path(cfg, k, v)
    cfg.__dict__["_upgrade_notes"] = list(notes)
    return cfg
