"""Optimizers and parameter groups from MMEngine-style ``optim_wrapper`` configs.

``build_optimizer(model, cfg.optim_wrapper)`` reads the same keys as MMEngine / MMAction2 1.x::

    optim_wrapper = dict(
        type='OptimWrapper',                      # or 'AmpOptimWrapper' (dtype=..., loss_scale=...)
        optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4),
        clip_grad=dict(max_norm=40, norm_type=2),
        accumulative_counts=1,
        constructor='TSMOptimWrapperConstructor', # default: DefaultOptimWrapperConstructor
        paramwise_cfg=dict(fc_lr5=True),
    )

and returns an :class:`OptimSetup`: a plain ``torch.optim.Optimizer`` plus the settings the
training loop applies itself (gradient clipping, accumulation, AMP dtype). The loop is visible
code in ``vidlab/engine/loop.py``; there is no wrapper object around the optimizer.

The parameter groups come from the constructors of :mod:`vidlab.engine.param_groups`.
"""

from __future__ import annotations

import difflib
import inspect
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn

from vidlab.checkpoint import unwrap_model
from vidlab.compat.mmengine import AmpOptimWrapper, OptimWrapper
from vidlab.config import resolve_type
from vidlab.config.errors import ConfigError
from vidlab.engine.param_groups import DefaultOptimWrapperConstructor, group_name

__all__ = ["OptimSetup", "build_optimizer", "clip_gradients"]


# --------------------------------------------------------------------------------------------
# The result
# --------------------------------------------------------------------------------------------
@dataclass
class OptimSetup:
    """What :func:`build_optimizer` returns.

    ``optimizer``: the torch optimizer. ``clip_grad``: ``dict(max_norm=..., norm_type=...)`` for
    norm clipping (arguments of ``torch.nn.utils.clip_grad_norm_``), ``dict(type='value',
    clip_value=...)`` for value clipping, or None; :func:`clip_gradients` applies either.
    ``accumulative_counts``: optimizer step every N iterations. ``amp_dtype``: None (no AMP) or
    the autocast dtype of an ``AmpOptimWrapper``. ``loss_scale``: the AmpOptimWrapper's
    ``loss_scale`` (None without AMP). ``group_names``: one stable description per param group,
    saved in checkpoints; :func:`compare_group_layout` tells what differs between two of them.
    """

    optimizer: torch.optim.Optimizer
    clip_grad: dict | None = None
    accumulative_counts: int = 1
    amp_dtype: torch.dtype | None = None
    group_names: list[str] = field(default_factory=list)
    loss_scale: Any = None
    wrapper_type: str = "OptimWrapper"

    @property
    def amp(self) -> bool:
        return self.amp_dtype is not None

    def clip_gradients(self) -> float | None:
        """Clip the gradients of every parameter in the optimizer per ``clip_grad``.

        Returns the total gradient norm before clipping (norm clipping), or None.
        """
        return clip_gradients(self.optimizer, self.clip_grad)


def clip_gradients(optimizer: torch.optim.Optimizer, clip_grad: dict | None) -> float | None:
    """Apply ``clip_grad`` (as stored in :class:`OptimSetup`) to the optimizer's parameters.

    Like MMEngine's ``OptimWrapper``: only parameters with a gradient are clipped; norm clipping
    returns the total norm (a float) for logging. With AMP, call it after ``scaler.unscale_``.
    """
    if not clip_grad:
        return None
    params = [p for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
    if not params:
        return None
    kwargs = dict(clip_grad)
    if kwargs.pop("type", "norm") == "value":
        torch.nn.utils.clip_grad_value_(params, **kwargs)
        return None
    return float(torch.nn.utils.clip_grad_norm_(params, **kwargs))


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------
def _close(name: str, choices) -> str:
    matches = difflib.get_close_matches(str(name), list(choices), n=3, cutoff=0.6)
    if not matches:
        lowered = {str(c).lower(): c for c in choices}
        matches = [lowered[m] for m in difflib.get_close_matches(str(name).lower(), lowered, n=3)]
    return f"; did you mean {', '.join(repr(m) for m in matches)}?" if matches else ""


def _type_name(t) -> str:
    return t if isinstance(t, str) else getattr(t, "__name__", repr(t))


def _torch_optimizer_names() -> list[str]:
    out = []
    for n in dir(torch.optim):
        obj = getattr(torch.optim, n)
        if (
            inspect.isclass(obj)
            and issubclass(obj, torch.optim.Optimizer)
            and obj is not torch.optim.Optimizer
        ):
            out.append(n)
    return sorted(out)


def _resolve_optimizer_class(t):
    if isinstance(t, str) and inspect.isclass(getattr(torch.optim, t, None)):
        obj = getattr(torch.optim, t)  # any optimizer of torch.optim by its class name
    elif isinstance(t, str) or inspect.isclass(t):
        obj = resolve_type(t, key_path="optim_wrapper.optimizer.type")
    else:
        raise ConfigError(
            "optim_wrapper.optimizer.type must be an optimizer name such as 'SGD' or 'AdamW', "
            f"got {t!r}"
        )
    if inspect.isclass(obj) and issubclass(obj, torch.optim.Optimizer):
        return obj
    raise ConfigError(
        f"optim_wrapper.optimizer.type: {t!r} is not a torch.optim.Optimizer subclass (any "
        f"class of torch.optim can be named{_close(_type_name(t), _torch_optimizer_names())}, "
        "or a 'package.module:Class' path)"
    )


def _resolve_constructor(c):
    if c is None:
        return DefaultOptimWrapperConstructor
    ctor = resolve_type(c, key_path="optim_wrapper.constructor")
    if not inspect.isclass(ctor):
        raise ConfigError(
            f"optim_wrapper.constructor: {c!r} is not a class (e.g. "
            "'DefaultOptimWrapperConstructor' or 'TSMOptimWrapperConstructor')"
        )
    return ctor


# --------------------------------------------------------------------------------------------
# build_optimizer
# --------------------------------------------------------------------------------------------
_AMP_DTYPES = {
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
}


def _parse_clip_grad(clip_grad) -> dict | None:
    if clip_grad is None or clip_grad is False:
        return None
    if not isinstance(clip_grad, dict) or not clip_grad:
        raise ConfigError(
            "optim_wrapper.clip_grad must be None or a dict such as dict(max_norm=40, norm_type=2), "
            f"got {clip_grad!r}"
        )
    cg = dict(clip_grad)
    kind = cg.pop("type", "norm")
    if kind == "norm":
        if "max_norm" not in cg:
            raise ConfigError(f"optim_wrapper.clip_grad needs max_norm, got {dict(clip_grad)!r}")
        allowed = set(inspect.signature(torch.nn.utils.clip_grad_norm_).parameters) - {"parameters"}
        bad = [k for k in cg if k not in allowed]
        if bad:
            raise ConfigError(
                f"optim_wrapper.clip_grad: unexpected key {bad[0]!r}{_close(bad[0], allowed)} "
                f"(arguments of torch.nn.utils.clip_grad_norm_: {', '.join(sorted(allowed))})"
            )
        cg["max_norm"] = float(cg["max_norm"])
        cg["norm_type"] = float(cg.get("norm_type", 2))
        return cg
    if kind == "value":
        if "clip_value" not in cg or len(cg) != 1:
            raise ConfigError(
                f"optim_wrapper.clip_grad with type='value' takes clip_value only, got {dict(clip_grad)!r}"
            )
        return {"type": "value", "clip_value": float(cg["clip_value"])}
    raise ConfigError(f"optim_wrapper.clip_grad.type must be 'norm' or 'value', got {kind!r}")


def build_optimizer(model: nn.Module, optim_wrapper: dict, *, lr_scale: float = 1.0) -> OptimSetup:
    """Build the optimizer described by an MMEngine-style ``optim_wrapper`` config.

    ``lr_scale`` multiplies every learning rate (``auto_scale_lr``: real batch / base batch).
    Raises ValueError naming the config key for a misspelled optimizer/wrapper/constructor name,
    a bad option, or a model with no trainable parameter.
    """
    if optim_wrapper is None or not isinstance(optim_wrapper, dict):
        raise ConfigError(
            "optim_wrapper must be a dict such as dict(optimizer=dict(type='SGD', lr=0.01)), "
            f"got {optim_wrapper!r}"
        )
    cfg = dict(optim_wrapper)
    wtype = cfg.pop("type", "OptimWrapper")
    wrapper_cls = resolve_type(wtype, key_path="optim_wrapper.type")
    if not (inspect.isclass(wrapper_cls) and issubclass(wrapper_cls, OptimWrapper)):
        raise ConfigError(
            f"optim_wrapper.type: {_type_name(wtype)!r} is not an optimizer wrapper (vidlab "
            "supports 'OptimWrapper' and 'AmpOptimWrapper')"
        )
    wname = "AmpOptimWrapper" if issubclass(wrapper_cls, AmpOptimWrapper) else "OptimWrapper"
    optimizer_cfg = cfg.pop("optimizer", None)
    if not isinstance(optimizer_cfg, dict) or "type" not in optimizer_cfg:
        raise ConfigError(
            "optim_wrapper.optimizer must be a dict with a type, e.g. "
            f"dict(type='SGD', lr=0.01, momentum=0.9), got {optimizer_cfg!r}"
        )
    paramwise_cfg = cfg.pop("paramwise_cfg", None)
    constructor = cfg.pop("constructor", None)
    clip_grad = _parse_clip_grad(cfg.pop("clip_grad", None))
    acc = cfg.pop("accumulative_counts", 1)
    if not isinstance(acc, int) or isinstance(acc, bool) or acc < 1:
        raise ConfigError(f"optim_wrapper.accumulative_counts must be an integer >= 1, got {acc!r}")
    amp_dtype = None
    loss_scale = None
    if wname == "AmpOptimWrapper":
        dtype = cfg.pop("dtype", None)
        loss_scale = cfg.pop("loss_scale", "dynamic")
        cfg.pop("use_fsdp", None)
        if dtype is None:
            amp_dtype = torch.float16
        elif isinstance(dtype, torch.dtype):
            amp_dtype = dtype
        elif isinstance(dtype, str) and dtype in _AMP_DTYPES:
            amp_dtype = _AMP_DTYPES[dtype]
        else:
            raise ConfigError(
                f"optim_wrapper.dtype: {dtype!r} is not an AMP dtype{_close(str(dtype), _AMP_DTYPES)} "
                "(use 'float16' or 'bfloat16')"
            )
        if not (loss_scale == "dynamic" or isinstance(loss_scale, (int, float, dict))):
            raise ConfigError(
                f"optim_wrapper.loss_scale must be 'dynamic', a number or a dict, got {loss_scale!r}"
            )
    if cfg:
        allowed = set(inspect.signature(wrapper_cls.__init__).parameters) - {"self"}
        k = sorted(cfg)[0]
        raise ConfigError(f"optim_wrapper.{k}: unexpected key for {wname}{_close(k, allowed)}")

    opt_cls = _resolve_optimizer_class(optimizer_cfg["type"])
    ctor_cls = _resolve_constructor(constructor)
    ctor_cfg = dict(optim_wrapper)
    ctor_cfg["optimizer"] = dict(optimizer_cfg)
    ctor = ctor_cls(ctor_cfg, paramwise_cfg)
    groups = ctor.param_groups(unwrap_model(model))
    if not groups:
        raise ConfigError(
            "the model has no trainable parameter (every parameter has requires_grad=False); "
            "check frozen_stages / the model's freezing options"
        )

    opt_kwargs = {k: v for k, v in optimizer_cfg.items() if k != "type"}
    if "lr" in opt_kwargs and opt_kwargs["lr"] is not None:
        opt_kwargs["lr"] = opt_kwargs["lr"] * lr_scale
    torch_groups = []
    group_names = []
    for g in groups:
        opts = dict(g.options)
        if "lr" in opts:
            opts["lr"] = opts["lr"] * lr_scale
        elif lr_scale != 1.0:
            default_lr = inspect.signature(opt_cls.__init__).parameters.get("lr")
            if default_lr is not None and isinstance(default_lr.default, (int, float)):
                opts["lr"] = default_lr.default * lr_scale
        name = group_name(g.label, g.names, opts)
        group_names.append(name)
        torch_groups.append({"params": g.params, **opts, "group_name": name.split(" (", 1)[0]})
    try:
        optimizer = opt_cls(torch_groups, **opt_kwargs)
    except TypeError as e:
        allowed = set(inspect.signature(opt_cls.__init__).parameters) - {"self", "params"}
        bad = [k for k in opt_kwargs if k not in allowed]
        if bad:
            raise ConfigError(
                f"optim_wrapper.optimizer.{bad[0]}: {opt_cls.__name__} has no option {bad[0]!r}"
                f"{_close(bad[0], allowed)}"
            ) from e
        raise ConfigError(f"optim_wrapper.optimizer: cannot build {opt_cls.__name__}: {e}") from e
    except ValueError as e:
        raise ConfigError(f"optim_wrapper.optimizer ({opt_cls.__name__}): {e}") from e
    return OptimSetup(
        optimizer=optimizer,
        clip_grad=clip_grad,
        accumulative_counts=acc,
        amp_dtype=amp_dtype,
        group_names=group_names,
        loss_scale=loss_scale,
        wrapper_type=wname,
    )
