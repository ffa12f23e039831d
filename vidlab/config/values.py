"""Values checked against what a constructor or a known setting takes.

:func:`value_problem` compares one config value with a type annotation (``int``, ``float | None``,
``Sequence[dict] | Compose``, ``Literal['avg', 'max']``, a class ...) and says what would work.
Nothing is ever coerced: ``batch_size='16'`` is a string, and a string is not an int. An
annotation this module does not understand accepts every value (no false alarms).
"""

from __future__ import annotations

import collections.abc as cabc
import functools
import inspect
import os
import types
import typing
from collections.abc import Mapping
from typing import Any

__all__ = [
    "NonNegativeInt",
    "PositiveInt",
    "annotations_of",
    "defaults_to_none",
    "describe",
    "value_problem",
]


class PositiveInt(int):
    """Annotation marker: an int >= 1 (used by the schemas of dicts without ``type``)."""


class NonNegativeInt(int):
    """Annotation marker: an int >= 0."""


_SEQUENCES = (
    list,
    tuple,
    cabc.Sequence,
    cabc.MutableSequence,
    typing.Sequence,
)
_MAPPINGS = (dict, cabc.Mapping, cabc.MutableMapping, typing.Mapping)


def describe(value: Any, limit: int = 60) -> str:
    """``'six' (a str)``: the value as written and its kind, for messages."""
    r = repr(value)
    if len(r) > limit:
        r = r[: limit - 3] + "..."
    if isinstance(value, Mapping) and "type" in value:
        t = value["type"]
        kind = f"a {getattr(t, '__name__', t)} node (dict with type)"
    else:
        kind = f"a {type(value).__name__}"
    return f"{r} ({kind})"


def _expected(ann: Any) -> str:
    """What ``ann`` asks for, in words."""
    if ann is type(None) or ann is None:
        return "None"
    if ann is PositiveInt:
        return "an int >= 1"
    if ann is NonNegativeInt:
        return "an int >= 0"
    if ann is bool:
        return "True or False"
    if ann is int:
        return "an int"
    if ann is float:
        return "a number"
    if ann is str:
        return "a string"
    origin = typing.get_origin(ann)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(dict.fromkeys(_expected(a) for a in typing.get_args(ann)))
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(ann))
    if ann in _SEQUENCES or origin in _SEQUENCES:
        return "a list"
    if ann in _MAPPINGS or origin in _MAPPINGS:
        return "a dict"
    if isinstance(ann, type):
        return f"a {ann.__name__}"
    return repr(ann)


def _node_class(value: Mapping) -> Any:
    from vidlab.config.resolve import TypeProblem, resolve

    try:
        return resolve(value["type"])
    except TypeProblem:
        return None  # reported elsewhere as an unknown type


def _fits(value: Any, ann: Any) -> bool | None:
    """True/False, or None when ``ann`` is not understood (then the value passes)."""
    if ann is Any or ann is object or ann is inspect.Parameter.empty:
        return True
    if ann is None or ann is type(None):
        return value is None
    origin = typing.get_origin(ann)
    if origin in (typing.Union, types.UnionType):
        results = [_fits(value, a) for a in typing.get_args(ann)]
        if any(r is True for r in results):
            return True
        return None if any(r is None for r in results) else False
    if origin is typing.Literal:
        return value in typing.get_args(ann)
    if origin is typing.Annotated:
        return _fits(value, typing.get_args(ann)[0])
    is_node = isinstance(value, Mapping) and "type" in value
    if ann is PositiveInt or ann is NonNegativeInt:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return ok and value >= (1 if ann is PositiveInt else 0)
    if ann is bool:
        return isinstance(value, bool)
    if ann is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if ann is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if ann is str:
        return isinstance(value, str)
    if ann in (bytes, complex):
        return None
    if ann is os.PathLike:
        return isinstance(value, (str, os.PathLike))
    if ann in _SEQUENCES or origin in _SEQUENCES:
        if is_node:
            cls = _node_class(value)
            return None if not isinstance(cls, type) else issubclass(cls, (list, tuple))
        return isinstance(value, (list, tuple))
    if ann in _MAPPINGS or origin in _MAPPINGS:
        return isinstance(value, Mapping)
    if origin is cabc.Callable or ann is cabc.Callable or ann is typing.Callable:
        return None
    if isinstance(ann, type):
        if is_node:
            cls = _node_class(value)
            if not isinstance(cls, type):
                return None  # a function builds it: its return type is not checked
            return issubclass(cls, ann)
        if isinstance(value, ann):
            return True
        if isinstance(value, (str, int, float, bool)) or value is None:
            return False  # a scalar where an object is wanted
        if isinstance(value, (list, tuple, Mapping)):
            return None  # may be built into the object (a pipeline list into a Compose, ...)
        return None
    return None


def value_problem(value: Any, ann: Any) -> str | None:
    """None when ``value`` fits ``ann`` (or ``ann`` is not understood); else what would work."""
    try:
        fits = _fits(value, ann)
    except TypeError:  # issubclass() on a protocol or another class it cannot check
        fits = None
    if fits is not False:
        return None
    msg = f"expected {_expected(ann)}"
    if isinstance(value, str):
        for conv in (int, float):
            try:
                conv(value)
            except ValueError:
                continue
            msg += f" (write {value} without quotes)"
            break
    if isinstance(value, Mapping) and _fits([], ann) is True:
        msg += " (a list of dicts, not one dict)"
    return msg


@functools.lru_cache(maxsize=512)
def _hints(func: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(func)
    except Exception:  # noqa: BLE001 - unresolvable forward references: check param by param
        pass
    out = {}
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return out
    namespace = getattr(func, "__globals__", {})
    for name, p in params.items():
        ann = p.annotation
        if isinstance(ann, str):
            try:
                ann = eval(ann, dict(namespace))  # noqa: S307 - an annotation of our own code
            except Exception:  # noqa: BLE001
                continue
        if ann is not inspect.Parameter.empty:
            out[name] = ann
    return out


def defaults_to_none(target: Any) -> set[str]:
    """Keywords whose default is None (``x: int = None`` accepts None whatever it says)."""
    funcs = [target]
    if isinstance(target, type):
        funcs = [k.__dict__["__init__"] for k in target.__mro__ if "__init__" in k.__dict__]
    out: set[str] = set()
    for func in funcs:
        try:
            params = inspect.signature(func).parameters.values()
        except (TypeError, ValueError):
            continue
        out.update(p.name for p in params if p.default is None)
    return out


def annotations_of(target: Any) -> dict[str, Any]:
    """Keyword -> annotation for ``target`` (a class: its ``__init__`` and those that its
    ``**kwargs`` lead to, the nearest winning)."""
    if not isinstance(target, type):
        try:
            return dict(_hints(target))
        except TypeError:
            return {}
    out: dict[str, Any] = {}
    for klass in target.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        try:
            hints = _hints(init)
        except TypeError:
            continue
        for k, v in hints.items():
            if k != "return":
                out.setdefault(k, v)
    return out
