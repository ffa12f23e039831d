"""Checkpoints: atomic saving, safe loading, and weight loading with a grouped report.

A vidlab checkpoint is a dict ``{"meta", "state_dict", "optimizer", "schedulers", "scaler", "ema",
"rng", "train_state"}``; ``state_dict`` has MMAction2's key layout (``backbone.*``, ``cls_head.*``),
so MMAction2 can read vidlab's files and vidlab reads MMAction2's (``state_dict``, ``meta``,
``message_hub``). Files are always read with ``torch.load(weights_only=True)``: nothing in a
checkpoint can run code. The classes MMEngine pickles into its bookkeeping entries (e.g.
``message_hub``'s ``HistoryBuffer``) are read into inert stand-ins rather than imported.
"""

from __future__ import annotations

import codecs
import collections
import io
import os
import pickle
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

__all__ = [
    "CheckpointError",
    "LoadReport",
    "extract_state_dict",
    "find_last_checkpoint",
    "load_checkpoint",
    "load_weights",
    "model_state_dict",
    "save_checkpoint",
    "unwrap_model",
]

# Prefixes added by wrappers: DDP/DataParallel (``module.``) and torch.compile (``_orig_mod.``).
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")
# Bookkeeping classes from OpenMMLab checkpoints that may be read as inert stand-ins.
_STUB_MODULE_PREFIXES = ("mmengine.", "mmcv.", "mmaction.")
# The only NumPy globals a checkpoint may name, exactly: those that rebuild arrays, dtypes and
# scalars (how MMEngine stores logged values in ``message_hub`` and ``meta``). Nothing is
# matched by pattern: ``numpy.load`` or ``numpy.savetxt`` are functions with side effects.
_NUMPY_GLOBALS = (
    "numpy.core.multiarray._reconstruct",
    "numpy._core.multiarray._reconstruct",
    "numpy.core.multiarray.scalar",
    "numpy._core.multiarray.scalar",
    "numpy.ndarray",
    "numpy.dtype",
)


class CheckpointError(Exception):
    """A checkpoint could not be read, or its weights do not fit the model."""


# --------------------------------------------------------------------------------------------
# saving
# --------------------------------------------------------------------------------------------


def save_checkpoint(path: str | os.PathLike, state: dict) -> Path:
    """Write ``state`` to ``path`` atomically.

    The file is written as ``<path>.tmp`` in the same directory, flushed to disk, then renamed
    over ``path``: a crash mid-write leaves the previous file at ``path`` intact.

    Args:
        path: destination file.
        state: the checkpoint dict (tensors, numbers, strings, lists and dicts).

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not possible on every OS/filesystem, so best effort.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --------------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------------


def _make_stub(qualified_name: str) -> type:
    """An inert class that pickle can build and fill with state instead of ``qualified_name``."""
    module, _, name = qualified_name.rpartition(".")

    def __setstate__(self, state):  # noqa: N807 - pickle protocol
        self.__dict__["_state"] = state

    return type(name, (), {"__module__": module, "__setstate__": __setstate__})


def _numpy_allowlist() -> dict[str, object]:
    """Name -> object for every NumPy global a checkpoint may use (see ``_NUMPY_GLOBALS``).

    NumPy 2 pickles a dtype through its class (``numpy.dtypes.Float64DType``): those classes
    are listed by their exact names too. They only describe element types.
    """
    import numpy as np

    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        multiarray = np.core.multiarray
    objects = {
        "_reconstruct": multiarray._reconstruct,
        "scalar": multiarray.scalar,
        "ndarray": np.ndarray,
        "dtype": np.dtype,
    }
    allowed = {name: objects[name.rpartition(".")[2]] for name in _NUMPY_GLOBALS}
    dtypes = getattr(np, "dtypes", None)  # numpy >= 1.25
    for attr in dir(dtypes) if dtypes is not None else ():
        cls = getattr(dtypes, attr)
        if attr.endswith("DType") and isinstance(cls, type) and issubclass(cls, np.dtype):
            allowed[f"numpy.dtypes.{attr}"] = cls
    return allowed


# Plain containers a data pickle may name (protocol 2 stores bytes as _codecs.encode(str,
# 'latin1'), which only turns text into bytes).
_PLAIN_GLOBALS = {
    "_codecs.encode": codecs.encode,
    "builtins.bytearray": bytearray,
    "builtins.set": set,
    "builtins.frozenset": frozenset,
    "builtins.slice": slice,
    "builtins.complex": complex,
    "collections.OrderedDict": collections.OrderedDict,
    "collections.defaultdict": collections.defaultdict,
}


def _storage_from_bytes(data: bytes):
    return torch.load(io.BytesIO(data), weights_only=True)  # one storage: data only


_TENSOR_GLOBALS = {
    "torch._utils._rebuild_tensor_v2": torch._utils._rebuild_tensor_v2,
    "torch._utils._rebuild_tensor": torch._utils._rebuild_tensor,
    "torch._utils._rebuild_parameter": torch._utils._rebuild_parameter,
    "torch.Size": torch.Size,
    "torch.storage._load_from_bytes": _storage_from_bytes,
}


class _DataUnpickler(pickle.Unpickler):
    """Plain containers, NumPy arrays and (``tensors``) torch tensors; any other global is
    refused by name, since unpickling it could run code."""

    def __init__(self, file, what: str, tensors: bool):
        super().__init__(file)
        self.what = what
        self.allowed = {**_numpy_allowlist(), **_PLAIN_GLOBALS}
        if tensors:
            self.allowed.update(_TENSOR_GLOBALS)

    def find_class(self, module: str, name: str):
        qualified = f"{module}.{name}"
        if qualified in self.allowed:
            return self.allowed[qualified]
        if module == "torch" and name.endswith("Storage") and "torch.Size" in self.allowed:
            return getattr(torch, name)
        raise pickle.UnpicklingError(
            f"{qualified} is not allowed in {self.what} (only plain containers, NumPy arrays"
            + (" and tensors" if "torch.Size" in self.allowed else "")
            + " are read: unpickling other objects could run code)"
        )


def load_pickle(path: str | os.PathLike, what: str = "a data pickle", tensors: bool = False):
    """The object in the plain pickle ``path`` (MMAction2's skeleton annotations, score dumps),
    read by a restricted unpickler.

    Raises:
        FileNotFoundError: no such file.
        pickle.UnpicklingError: the file names a global outside the allow-list (the message
            names it), or is not a pickle.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file ({what})")
    with open(path, "rb") as f:
        try:
            return _DataUnpickler(f, what, tensors).load()
        except (EOFError, ValueError, TypeError) as e:
            raise pickle.UnpicklingError(f"{path}: not {what} ({e})") from None


def _benign_globals(path: Path) -> tuple[list, list[str]]:
    """Stand-ins for the globals ``path`` names beyond torch's own, and those not allowed.

    Allowed: the NumPy globals of :func:`_numpy_allowlist`, and OpenMMLab bookkeeping classes
    (``mmengine.*``, ``mmcv.*``, ``mmaction.*``), which are read into inert stand-ins that
    only keep their state and run nothing. Everything else is refused by its exact name.
    """
    get_unsafe = getattr(torch.serialization, "get_unsafe_globals_in_checkpoint", None)
    if get_unsafe is None:  # torch < 2.5 cannot list them: refuse rather than guess
        return [], ["(torch < 2.5 cannot list the globals of a checkpoint)"]
    try:
        names = get_unsafe(str(path))
    except Exception as e:  # not a zip checkpoint: let torch.load say what is wrong
        raise CheckpointError(f"{path}: truncated or not a checkpoint ({e})") from e
    numpy_ok = _numpy_allowlist() if any(n.startswith("numpy.") for n in names) else {}
    allowed, refused = [], []
    for name in names:
        if name.startswith(_STUB_MODULE_PREFIXES):
            allowed.append((_make_stub(name), name))
        elif name in numpy_ok:
            allowed.append((numpy_ok[name], name))
        else:
            refused.append(name)
    if numpy_ok:  # dtype classes are looked up while arrays are rebuilt, not listed upfront
        allowed += [
            (cls, name) for name, cls in numpy_ok.items() if name.startswith("numpy.dtypes.")
        ]
    return allowed, refused


def load_checkpoint(
    path: str | os.PathLike, map_location="cpu", *, allow_unsafe: bool = False
) -> dict:
    """Read a checkpoint file safely.

    Args:
        path: a ``.pth`` file written by vidlab, MMAction2/MMEngine or plain ``torch.save``.
        map_location: where tensors go (``"cpu"`` by default).
        allow_unsafe: read with full unpickling. Only for files you trust: unpickling can run
            arbitrary code.

    Returns:
        The checkpoint dict (a bare state dict is returned as it is).

    Raises:
        CheckpointError: the file is missing, truncated or not a checkpoint, or needs unsafe
            unpickling that was not allowed.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint file {str(path)!r} does not exist")
    if allow_unsafe:
        try:
            return torch.load(path, map_location=map_location, weights_only=False)
        except Exception as e:
            raise CheckpointError(f"{path}: truncated or not a checkpoint ({e})") from e
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        if "weights only" not in str(e).lower() and "weights_only" not in str(e).lower():
            raise CheckpointError(f"{path}: truncated or not a checkpoint ({e})") from e
        stubs, refused = _benign_globals(path)
        if refused:
            raise CheckpointError(
                f"{path} names Python objects that a checkpoint does not need and that could "
                f"run code when unpickled: {', '.join(refused)}. vidlab reads checkpoints as "
                "data only. If you trust this file, read it in Python with "
                "load_checkpoint(path, allow_unsafe=True), or convert it once to plain weights: "
                f"python -c \"import torch; c = torch.load('{path}', weights_only=False); "
                f"torch.save({{'state_dict': c['state_dict']}}, 'weights.pth')\""
            ) from e
        try:
            with torch.serialization.safe_globals(stubs):
                return torch.load(path, map_location=map_location, weights_only=True)
        except Exception as e2:  # a stand-in called as a function, a broken array, ...
            raise CheckpointError(f"{path}: truncated or not a checkpoint ({e2})") from e2
    except Exception as e:  # zip reader errors, EOF, invalid load key, ...
        raise CheckpointError(f"{path}: truncated or not a checkpoint ({e})") from e


def _strip_prefixes(state: dict) -> dict:
    out = {}
    for key, value in state.items():
        changed = True
        while changed:
            changed = False
            for prefix in _WRAPPER_PREFIXES:
                if key.startswith(prefix):
                    key = key[len(prefix) :]
                    changed = True
        out[key] = value
    return out


def extract_state_dict(checkpoint: dict) -> dict:
    """The model weights of a checkpoint dict, with wrapper prefixes (``module.``) removed.

    Understands vidlab/MMAction2 (``state_dict``), other zoos (``model``, ``model_state``) and
    bare state dicts.
    """
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"a checkpoint must be a dict, got {type(checkpoint).__name__}")
    for key in ("state_dict", "model", "model_state"):
        if isinstance(checkpoint.get(key), dict):
            return _strip_prefixes(checkpoint[key])
    if checkpoint and all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        return _strip_prefixes(checkpoint)
    raise CheckpointError(
        "no weights found in checkpoint: expected a 'state_dict' entry or a bare state dict; "
        f"top-level keys are {sorted(checkpoint)[:10]}"
    )


def unwrap_model(model: nn.Module) -> nn.Module:
    """The plain module inside DDP / DataParallel / ``torch.compile`` wrappers."""
    while True:
        if hasattr(model, "_orig_mod"):
            model = model._orig_mod
        elif isinstance(model, nn.parallel.DistributedDataParallel | nn.DataParallel):
            model = model.module
        else:
            return model


def model_state_dict(model: nn.Module) -> dict:
    """``state_dict`` of the unwrapped model, in MMAction2's key layout, on the CPU."""
    return {k: v.detach().cpu() for k, v in unwrap_model(model).state_dict().items()}


# --------------------------------------------------------------------------------------------
# weights with a report
# --------------------------------------------------------------------------------------------


def _group_keys(keys: list[str]) -> list[str]:
    """``['a.b.weight', 'a.b.bias', 'c']`` -> ``['a.b.{bias, weight}', 'c']``."""
    groups: dict[str, list[str]] = defaultdict(list)
    for key in keys:
        parent, _, leaf = key.rpartition(".")
        groups[parent].append(leaf)
    lines = []
    for parent in sorted(groups):
        leaves = sorted(groups[parent])
        body = leaves[0] if len(leaves) == 1 else "{" + ", ".join(leaves) + "}"
        lines.append(f"{parent}.{body}" if parent else body)
    return lines


@dataclass
class LoadReport:
    """What happened when weights were loaded into a model.

    Attributes:
        source: the file (or ``"<state dict>"``).
        loaded: keys copied into the model.
        shape_mismatch: ``(key, shape in file, shape in model)`` for keys skipped.
        missing: model keys absent from the file.
        unexpected: file keys the model does not have.
    """

    source: str = "<state dict>"
    loaded: list[str] = field(default_factory=list)
    shape_mismatch: list[tuple[str, tuple, tuple]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every key matched in name and shape."""
        return not (self.shape_mismatch or self.missing or self.unexpected)

    def __str__(self) -> str:
        return self.describe()

    def describe(self, applied: bool = True) -> str:
        """The grouped summary; ``applied=False`` when nothing was copied (a strict load that
        failed): the first line then says how many tensors would fit instead of "loaded"."""
        counts = [
            f"{len(keys)} {what}"
            for keys, what in (
                (self.shape_mismatch, "of another shape"),
                (self.missing, "missing"),
                (self.unexpected, "unexpected"),
            )
            if keys
        ]
        n = len(self.loaded)
        head = f"loaded {n} tensors" if applied else f"{n} tensors fit"
        lines = [f"{head} from {self.source}"]
        if counts:
            lines[0] += f" ({', '.join(counts)})"
            expected = len(self.loaded) + len(self.shape_mismatch) + len(self.missing)
            if len(self.loaded) < expected / 2:  # most of the model found nothing that fits
                lines.append(
                    "  less than half of the model's tensors are in this file: it is likely a "
                    "checkpoint of another model; check that the config and checkpoint belong "
                    "together"
                )
        mismatches = [
            f"{key} {_fmt(file_shape)} in file vs {_fmt(model_shape)} in model"
            for key, file_shape, model_shape in self.shape_mismatch
        ]
        lines += _limited("  shape mismatch, skipped: ", mismatches, noun="tensors")
        lines += _limited("  missing in checkpoint: ", _group_keys(self.missing))
        lines += _limited("  unexpected in checkpoint: ", _group_keys(self.unexpected))
        return "\n".join(lines)


def _fmt(shape: tuple) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def _limited(label: str, groups: list[str], limit: int = 20, noun: str = "groups") -> list[str]:
    lines = [label + g for g in groups[:limit]]
    if len(groups) > limit:
        lines.append(f"{label}... and {len(groups) - limit} more {noun}")
    return lines


def load_weights(
    model: nn.Module, src: str | os.PathLike | dict, strict: bool = True
) -> LoadReport:
    """Copy weights from a checkpoint into ``model`` and report what fit.

    Tensors whose shape differs from the model's are skipped (so a 400-class head does not stop
    fine-tuning on 10 classes when ``strict=False``).

    Args:
        model: the model (wrappers are unwrapped).
        src: a checkpoint path, a checkpoint dict, or a state dict.
        strict: raise instead of loading anything when a key is missing, unexpected or of
            another shape.

    Returns:
        The :class:`LoadReport`; ``str(report)`` is the grouped human-readable summary.

    Raises:
        CheckpointError: with the report, when ``strict`` and something does not fit.
    """
    source = "<state dict>"
    if isinstance(src, str | os.PathLike):
        source = str(src)
        src = load_checkpoint(src)
    file_state = extract_state_dict(src)
    model = unwrap_model(model)
    # another zoo's layout (PySlowFast's MViT): the backbone's family converts it
    convert = getattr(getattr(model, "backbone", None), "convert_checkpoint", None)
    if convert is not None:
        file_state = convert(file_state) or file_state
    model_state = model.state_dict()

    report = LoadReport(source=source)
    to_load = {}
    for key, value in file_state.items():
        if key not in model_state:
            report.unexpected.append(key)
        elif tuple(value.shape) != tuple(model_state[key].shape):
            report.shape_mismatch.append((key, tuple(value.shape), tuple(model_state[key].shape)))
        else:
            to_load[key] = value
    report.missing = [k for k in model_state if k not in file_state]
    report.loaded = list(to_load)
    if strict and not report.ok:
        raise CheckpointError(
            f"weights in {source} do not fit the model (strict loading; nothing was loaded):\n"
            + report.describe(applied=False)
        )
    model.load_state_dict(to_load, strict=False)
    return report


# --------------------------------------------------------------------------------------------
# finding checkpoints in a work dir
# --------------------------------------------------------------------------------------------


def find_last_checkpoint(work_dir: str | os.PathLike) -> Path | None:
    """The checkpoint to resume from in ``work_dir``: ``last_checkpoint``, else the newest
    ``epoch_N.pth``; ``None`` when there is none.

    ``last_checkpoint`` holds a path relative to ``work_dir``; an absolute one (written by
    older versions) is read too, the file of that name in ``work_dir`` first, so that a copied
    work dir resumes from its own files."""
    work_dir = Path(work_dir)
    marker = work_dir / "last_checkpoint"
    if marker.is_file():
        recorded = Path(marker.read_text().strip())
        if recorded.is_absolute():
            candidates = (work_dir / recorded.name, recorded)
        else:
            candidates = (work_dir / recorded,)
        for candidate in candidates:
            if candidate.is_file():
                return candidate
    epochs = []
    for p in work_dir.glob("epoch_*.pth"):
        m = re.fullmatch(r"epoch_(\d+)\.pth", p.name)
        if m:
            epochs.append((int(m.group(1)), p))
    return max(epochs)[1] if epochs else None
