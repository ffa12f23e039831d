"""What :func:`vidlab.config.validate` knows beyond signatures.

- Dicts without ``type`` that MMEngine reads itself have a known schema: ``train_dataloader``
  and the other loaders, ``train_cfg``, ``val_cfg``, ``test_cfg``, ``optim_wrapper`` (and its
  ``clip_grad``), ``default_hooks``, ``env_cfg``, ``randomness``, ``auto_scale_lr``,
  ``synthetic_data``. A misspelled key there is an error with a "did you mean", and values are
  checked as for a constructor's arguments.
- Top-level names close to a known one (``train_dataloder``) are reported as warnings: a config
  may define helper variables of any name, but a near miss is almost always a typo.
- A pipeline is checked for order: a step that needs ``imgs`` (a transform, ``FormatShape``)
  before any decoding step, or a decoding step before any sampling step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vidlab.config.load import ENGINE_KEYS
from vidlab.config.names import DEFAULT_HOOK_TYPES
from vidlab.config.resolve import TypeProblem, did_you_mean, resolve, type_name
from vidlab.config.values import NonNegativeInt, PositiveInt, value_problem

__all__ = ["KNOWN_TOP_LEVEL", "check_pipeline", "close_top_level_names", "schema_problems"]

# Top-level names that MMAction2 / MMEngine configs use or vidlab reads.
KNOWN_TOP_LEVEL = ENGINE_KEYS | {
    "train_pipeline",
    "val_pipeline",
    "test_pipeline",
    "dataset_type",
    "data_root",
    "data_root_val",
    "ann_file_train",
    "ann_file_val",
    "ann_file_test",
}

_LOADER = {
    "batch_size": PositiveInt,
    "num_workers": NonNegativeInt,
    "persistent_workers": bool,
    "pin_memory": bool,
    "drop_last": bool | None,
    "dataset": Any,
    "sampler": Any,
    "batch_sampler": Any,
    "collate_fn": Any,
    "prefetch_factor": int | None,
    "worker_init_fn": Any,
    "timeout": float,
    "pin_memory_device": str,
    "multiprocessing_context": Any,
    "generator": Any,
}

# Dataset arguments that a config may put on the loader by mistake (MMAction2's TSM sthv2
# config has ``test_dataloader = dict(pipeline=..., test_mode=True)``): one message for them all.
_DATASET_KEYS = (
    "ann_file",
    "pipeline",
    "data_prefix",
    "test_mode",
    "multi_class",
    "num_classes",
    "start_index",
    "modality",
    "filename_tmpl",
)

# Key path -> {key: annotation} for dicts without ``type`` that the engine reads itself.
SCHEMAS: dict[str, dict[str, Any]] = {
    "train_dataloader": _LOADER,
    "val_dataloader": _LOADER,
    "test_dataloader": _LOADER,
    "val_cfg": {"fp16": bool},
    "test_cfg": {"fp16": bool, "max_testing_views": int | None},
    "env_cfg": {"cudnn_benchmark": bool, "mp_cfg": dict, "dist_cfg": dict, "resource_limit": int},
    "env_cfg.mp_cfg": {"mp_start_method": str, "opencv_num_threads": int},
    "randomness": {"seed": int | None, "deterministic": bool, "diff_rank_seed": bool},
    "auto_scale_lr": {"enable": bool, "base_batch_size": PositiveInt},
    "optim_wrapper.clip_grad": {
        "type": str,
        "max_norm": float,
        "norm_type": float,
        "error_if_nonfinite": bool,
        "foreach": bool | None,
        "clip_value": float,
    },
}

# Key path -> the type a dict without ``type`` stands for (its signature is the schema), and
# keys MMEngine allows there besides.
DEFAULT_TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "train_cfg": ("vidlab.compat.mmengine:EpochBasedTrainLoop", ("by_epoch",)),
    "optim_wrapper": ("vidlab.compat.mmengine:OptimWrapper", ()),
    "synthetic_data": ("vidlab.data.synthetic:make_synthetic_dataset", ()),
}
# Keys of those dicts that the engine passes under another name.
_RENAMED = {"synthetic_data": {"root": "out_dir"}}


def close_top_level_names(cfg: Mapping) -> list[str]:
    """Warnings for top-level names that are not known but close to a known one."""
    out = []
    for name in cfg:
        if not isinstance(name, str) or name in KNOWN_TOP_LEVEL or name.startswith("_"):
            continue
        close = [
            c for c in did_you_mean(name, sorted(KNOWN_TOP_LEVEL), n=1) if _very_close(name, c)
        ]
        if close:
            out.append(f"top-level name {name!r} is not read by vidlab; did you mean {close[0]!r}?")
    return out


def _very_close(a: str, b: str) -> bool:
    import difflib

    return difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio() >= 0.85


def _check_keys(node: Mapping, path: str, schema: Mapping[str, Any], report) -> None:
    misplaced = []
    if schema is _LOADER:
        misplaced = [k for k in node if k in _DATASET_KEYS and k not in schema]
    if misplaced:
        keys = ", ".join(repr(k) for k in misplaced)
        what = "is a dataset argument" if len(misplaced) == 1 else "are dataset arguments"
        report(
            node,
            path,
            f"{keys} {what}, not the loader's: move {'it' if len(misplaced) == 1 else 'them'} "
            f"into {path}.dataset (MMAction2 1.2.0 stops here too: torch's DataLoader rejects "
            f"{misplaced[0]!r})",
        )
    for key, value in node.items():
        if key in ("type", "_scope_") or key in misplaced:
            continue
        if key not in schema:
            msg = f"unknown key {key!r}"
            close = did_you_mean(str(key), list(schema))
            if close:
                msg += f"; did you mean {' or '.join(repr(c) for c in close)}?"
            else:
                msg += f" (known keys: {', '.join(schema)})"
            report(node, path, msg)
            continue
        problem = value_problem(value, schema[key])
        if problem:
            report(node, path, f"{key}={_short(value)}: {problem}")


def _short(value: Any) -> str:
    r = repr(value)
    return r if len(r) <= 60 else r[:57] + "..."


def schema_problems(cfg: Mapping, report, check_node) -> None:
    """Report problems of the known dicts of ``cfg`` (see the module docstring).

    ``check_node(node, path)`` validates a dict as a node of a given type (for dicts whose
    schema is a constructor's signature); ``report(node, path, message)`` records a problem.
    """
    for path, schema in SCHEMAS.items():
        node = _at(cfg, path)
        if not isinstance(node, Mapping):
            if node is not None and "." not in path:
                report(cfg, path, f"expected a dict, got {_short(node)}")
            continue
        if node.get("type") is not None:
            continue  # a type of its own: its signature is checked instead
        _check_keys(node, path, schema, report)
    for path, (target, extra) in DEFAULT_TYPES.items():
        node = _at(cfg, path)
        if isinstance(node, Mapping) and "type" not in node:
            names = _RENAMED.get(path, {})
            as_node = {names.get(k, k): v for k, v in node.items()}
            check_node({"type": target, **as_node}, path, extra=extra, source=node)
    hooks = cfg.get("default_hooks")
    if isinstance(hooks, Mapping):
        for name, node in hooks.items():
            path = f"default_hooks.{name}"
            if not isinstance(node, Mapping) or "type" in node:
                continue
            if name in DEFAULT_HOOK_TYPES:
                check_node({"type": DEFAULT_HOOK_TYPES[name], **node}, path, source=node)
            else:
                msg = f"default_hooks has no hook {name!r} and the dict has no type"
                close = did_you_mean(str(name), list(DEFAULT_HOOK_TYPES))
                msg += (
                    f"; did you mean {' or '.join(repr(c) for c in close)}?"
                    if close
                    else f" (known: {', '.join(DEFAULT_HOOK_TYPES)}; or give a type=)"
                )
                report(node, path, msg)


def _at(cfg: Mapping, path: str) -> Any:
    cur: Any = cfg
    for part in path.split("."):
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(part)
    return cur


# --------------------------------------------------------------------------------- pipelines


def _kind(cls: Any) -> str | None:
    name = getattr(cls, "__name__", "")
    module = getattr(cls, "__module__", "") or ""
    if module.startswith("vidlab.data.sampling"):
        return "sample"
    if module.startswith("vidlab.data.loading") and name.endswith("Decode"):
        return "decode"
    if module.startswith("vidlab.data.transforms") and name != "PackActionInputs":
        return "transform"
    return None


def check_pipeline(pipeline: Any, path: str, report) -> None:
    """Report steps of ``pipeline`` that come before the step that makes their input."""
    if not isinstance(pipeline, (list, tuple)):
        return
    seen: set[str] = set()
    for i, step in enumerate(pipeline):
        if not (isinstance(step, Mapping) and "type" in step):
            continue
        try:
            cls = resolve(step["type"])
        except TypeProblem:
            continue
        kind = _kind(cls)
        name = type_name(step["type"])
        where = f"{path}[{i}]"
        if kind == "decode" and "sample" not in seen and _kind_after(pipeline, i, "sample"):
            report(
                step,
                where,
                f"{name} needs 'frame_inds', which no step before it makes: put the sampling "
                "step (SampleFrames, ...) before the decoding step",
            )
        if kind == "transform" and "decode" not in seen and _kind_after(pipeline, i, "decode"):
            report(
                step,
                where,
                f"{name} needs 'imgs', which no step before it makes: decoded frames come from "
                "a decoding step (VideoDecode, RawFrameDecode, ...) placed before it",
            )
        if kind:
            seen.add(kind)


def _kind_after(pipeline, i: int, kind: str) -> bool:
    for step in pipeline[i + 1 :]:
        if isinstance(step, Mapping) and "type" in step:
            try:
                if _kind(resolve(step["type"])) == kind:
                    return True
            except TypeProblem:
                pass
    return False
