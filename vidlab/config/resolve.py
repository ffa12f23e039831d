"""From a config ``type`` to the class or function it names: :func:`resolve_type`.

A *node* is a dict with a ``type`` key. The type is a class or function object, a short name
listed in :data:`vidlab.config.names.NAMES` (``'ResNet'``, also with an MMEngine scope prefix
such as ``'mmaction.ResNet'``), an MMAction2 0.x name listed in
:data:`vidlab.compat.mmaction0x.ALIASES`, a model variant name (``'tsm_r50_1x1x8'``, looked up in
``vidlab.models.variants``), ``'pkg.mod:Name'`` or a dotted path ``'pkg.mod.Name'``. Nothing
registers itself; the module behind a name is imported when the name is first used.
"""

from __future__ import annotations

import difflib
import functools
import importlib
from collections.abc import Callable, Mapping
from typing import Any

from vidlab.compat.mmaction0x import ALIASES
from vidlab.compat.mmaction_names import MMACTION2_NAMES, REPLACED
from vidlab.config.errors import ConfigError, display_path
from vidlab.config.names import NAMES
from vidlab.config.types import Config

__all__ = ["LAZY_KEYS", "SCOPE_PREFIXES", "did_you_mean", "is_node", "resolve_type"]

# MMEngine scope prefixes written in some MMAction2 1.x configs (``type='mmaction.Recognizer2D'``).
SCOPE_PREFIXES = ("mmaction.", "mmengine.", "mmdet.", "mmpose.", "mmcv.", "mmpretrain.", "mmcls.")

# Keys whose dicts are layer specs of MMCV (``norm_cfg=dict(type='BN3d')``) or init specs: their
# ``type`` is not a vidlab component name. They are never built recursively nor validated as
# components; a class lists further keys of its own in ``_lazy_args``.
LAZY_KEYS = frozenset(
    {"norm_cfg", "conv_cfg", "act_cfg", "init_cfg", "upsample_cfg", "plugins", "dcn", "_scope_"}
)

# The lazy table of model variants (``type='tsm_r50_1x1x8'``). It lives in the models package,
# which imports torch, so it is imported only when a plain name is not in NAMES or ALIASES.
VARIANTS_MODULE = "vidlab.models.variants"


def is_node(value: Any) -> bool:
    """A dict with a ``type`` that is a name or a class/function."""
    if not isinstance(value, Mapping) or "type" not in value:
        return False
    t = value["type"]
    return isinstance(t, str) or callable(t)


def type_name(t: Any) -> str:
    """How messages name a node's type: the string as written, or a class's qualified name."""
    if isinstance(t, str):
        return t
    return getattr(t, "__qualname__", None) or getattr(t, "__name__", None) or repr(t)


def source_of(node: Any, default: str | None = None) -> str | None:
    """The file a config node came from (recorded by the loader), else ``default``."""
    if isinstance(node, Config):
        return node.__dict__.get("_source") or node.__dict__.get("filename") or default
    return default


def where(key_path: str, filename: str | None) -> str:
    """The ``"file: key.path: "`` prefix of a message (either part may be missing)."""
    parts = []
    if filename:
        parts.append(display_path(filename))
    if key_path:
        parts.append(key_path)
    return "".join(p + ": " for p in parts)


class TypeProblem(Exception):
    """A type that cannot be resolved; the message has no file/key-path prefix yet."""


def _variants(name: str) -> Any | None:
    """The variants table module, or None when this installation has none."""
    try:
        return importlib.import_module(VARIANTS_MODULE)
    except Exception as e:  # noqa: BLE001 - reported with its cause, as any failed import is
        if isinstance(e, ModuleNotFoundError) and e.name == VARIANTS_MODULE:
            return None  # the table itself is absent: there are no variants to look up
        raise TypeProblem(
            f"unknown type {name!r}: looking it up among model variants failed: importing "
            f"{VARIANTS_MODULE} raised {type(e).__name__}: {e}{_import_hint(e, VARIANTS_MODULE)}"
        ) from e


def _find_variant(name: str) -> Callable | None:
    variants = _variants(name)
    if variants is None:
        return None
    try:
        return variants.find_variant(name)
    except Exception as e:  # noqa: BLE001 - the family module failed to import: say so
        raise TypeProblem(
            f"type {name!r} was looked up among model variants, and importing its family "
            f"module failed: {type(e).__name__}: {e}"
        ) from e


def _known_names(name: str) -> list[str]:
    """Names to suggest instead of ``name``; variant names are read only here (on an error)."""
    variants = _variants(name)
    return [*NAMES, *ALIASES, *(variants.variant_names() if variants is not None else ())]


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
    candidates = [name]
    for prefix in SCOPE_PREFIXES:
        if name.startswith(prefix):
            candidates.append(name[len(prefix) :])
    for cand in candidates:
        if cand in NAMES:
            return cand, NAMES[cand]
        if cand in ALIASES:
            new = ALIASES[cand]
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


# Config types that name a model of another library, as MMAction2's do: prefix -> (package,
# builder). ``type='timm.swin_base_patch4_window7_224'`` builds
# ``vidlab.models.external.timm_backbone('swin_base_patch4_window7_224', ...)``.
EXTERNAL_PREFIXES = {
    "timm.": ("timm", "vidlab.models.external:timm_backbone"),
    "torchvision.": ("torchvision", "vidlab.models.external:torchvision_backbone"),
}


def _external(name: str) -> Callable | None:
    """The builder of a ``timm.``/``torchvision.`` type with the model name bound, or None.

    Raises:
        TypeProblem: the library is not installed (the message names the package).
    """
    for prefix, (package, target) in EXTERNAL_PREFIXES.items():
        if name.startswith(prefix) and len(name) > len(prefix):
            try:
                importlib.import_module(package)
            except ImportError as e:
                raise TypeProblem(
                    f"type {name!r} is a {package} model, and {package} is not installed: "
                    f"pip install {package}"
                ) from e
            return functools.partial(_import_attr(target, name), name[len(prefix) :])
    return None


def _import_attr(target: str, shown: str) -> Any:
    module_name, _, qualname = target.partition(":")
    if not module_name or not qualname:
        raise TypeProblem(f"type {shown!r}: {target!r} is not of the form 'package.module:Name'")
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as e:  # noqa: BLE001 - any import failure is reported with its cause
        raise TypeProblem(
            f"type {shown!r} lives in module {module_name} ({target}), and importing it failed: "
            f"{type(e).__name__}: {e}{_import_hint(e, module_name)}"
        ) from e
    for part in qualname.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise TypeProblem(
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
            raise TypeProblem(
                f"type {name!r}: importing module {module_name} failed: "
                f"{type(e).__name__}: {e}{_import_hint(e, module_name)}"
            ) from e
        except Exception as e:  # noqa: BLE001
            raise TypeProblem(
                f"type {name!r}: importing module {module_name} failed: {type(e).__name__}: {e}"
            ) from e
        for part in parts[i:]:
            try:
                obj = getattr(obj, part)
            except AttributeError:
                raise TypeProblem(
                    f"type {name!r}: module {module_name} has no attribute {'.'.join(parts[i:])!r}"
                ) from None
        return obj
    return None


def _without_scope(name: str) -> str:
    """``'mmaction.X'`` -> ``'X'``; other names unchanged."""
    for prefix in SCOPE_PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def resolve(t: Any) -> Any:
    """:func:`resolve_type` without the file/key-path prefix: raises :class:`TypeProblem`."""
    if isinstance(t, str):
        name = t.strip()
        if not name:
            raise TypeProblem("type is an empty string")
        found = _lookup(name)
        if found is not None:
            return _import_attr(found[1], name)
        external = _external(name)
        if external is not None:
            return external
        if ":" in name:
            return _import_attr(name, name)
        bare = _without_scope(name)
        if bare in REPLACED:
            raise TypeProblem(REPLACED[bare])
        if bare in MMACTION2_NAMES:
            raise TypeProblem(
                f"MMAction2's {bare!r} is not implemented in vidlab (yet); `vidlab list-models` "
                "and the README's table of what works list what is"
            )
        if "." in name:
            obj = _import_dotted(name)
            if obj is not None:
                return obj
            short = name.rsplit(".", 1)[1]
            raise TypeProblem(
                f"unknown type {name!r}: not a vidlab name and no module of that dotted path "
                f"can be imported{_suggest(short, _known_names(name))}"
            )
        variant = _find_variant(name)
        if variant is not None:
            return variant
        raise TypeProblem(f"unknown type {name!r}{_suggest(name, _known_names(name))}")
    if callable(t):
        return t
    raise TypeProblem(f"type must be a class, a function or a name string, not {t!r}")


def resolve_type(t: Any, key_path: str = "", filename: str | None = None) -> Any:
    """The class or function that a config ``type`` names.

    Names are looked up in this order: :data:`~vidlab.config.names.NAMES` (also with a scope
    prefix such as ``'mmaction.'``), MMAction2 0.x aliases, ``'pkg.mod:Name'``, a dotted path
    ``'pkg.mod.Name'``, and last, for a plain name, the model variants table
    (``'tsm_r50_1x1x8'``).

    Args:
        t: A class or function (returned as is) or a name string.
        key_path: Where the node is in the config, for messages.
        filename: The config file, for messages.

    Returns:
        The class or function.

    Raises:
        ConfigError: An unknown name (with "did you mean") or a failed import, naming the file,
            the key path, the name, the module and the cause (chained).
    """
    try:
        return resolve(t)
    except TypeProblem as p:
        raise ConfigError(where(key_path, filename) + str(p)) from p.__cause__
