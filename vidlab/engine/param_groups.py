"""Parameter groups: MMEngine's and MMAction2's optimizer-wrapper constructors, and group names.

A constructor (``optim_wrapper.constructor``, default ``DefaultOptimWrapperConstructor``) turns a
model and ``paramwise_cfg`` into parameter groups with their own lr / weight decay;
:func:`vidlab.engine.optim.build_optimizer` hands them to the torch optimizer. Differences from
MMEngine, all deliberate:

* Parameters with ``requires_grad=False`` (frozen stages) get no group and no optimizer state.
  MMEngine adds them to the optimizer (older versions) or skips them (newer ones); they never
  receive a gradient either way.
* Parameters that end up with identical settings are merged into one group, in order of first
  appearance. MMEngine's ``DefaultOptimWrapperConstructor`` makes one group per parameter when a
  ``paramwise_cfg`` is given; the update is the same (every torch optimizer applies its
  hyper-parameters per group), the optimizer is faster, and the groups get readable names.
* Empty groups are dropped (MMAction2's TSM constructor adds e.g. an empty ``first_conv_bias``).

Layer-wise learning-rate decay (``LearningRateDecayOptimizerConstructor``) is in
:mod:`vidlab.engine.layer_decay`.

Each group gets a stable name (:func:`group_name`) that checkpoints keep, so that a resume with
another layout says what differs (:func:`compare_group_layout`).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd
from torch.nn.modules.instancenorm import _InstanceNorm

from vidlab.checkpoint import unwrap_model
from vidlab.config.errors import ConfigError

__all__ = [
    "DefaultOptimWrapperConstructor",
    "SwinOptimWrapperConstructor",
    "TSMOptimWrapperConstructor",
    "compare_group_layout",
    "describe_param_groups",
    "group_name",
]

_NORM_TYPES = (_BatchNorm, _InstanceNorm, nn.GroupNorm, nn.LayerNorm)


# --------------------------------------------------------------------------------------------
# Parameter groups
# --------------------------------------------------------------------------------------------
@dataclass
class _Group:
    label: str
    options: dict  # lr, weight_decay, any other optimizer option for this group
    params: list = field(default_factory=list)
    names: list = field(default_factory=list)


class _GroupCollector:
    """Collects (label, options) -> params, merging identical settings in first-seen order."""

    def __init__(self):
        self.groups: dict[tuple, _Group] = {}
        self.seen: dict[int, str] = {}

    def add(self, label: str, options: dict, param: nn.Parameter, name: str) -> None:
        key = (label, tuple(sorted((k, _hashable(v)) for k, v in options.items())))
        g = self.groups.get(key)
        if g is None:
            g = self.groups[key] = _Group(label, dict(options))
        g.params.append(param)
        g.names.append(name)
        self.seen[id(param)] = name

    def result(self) -> list[_Group]:
        return [g for g in self.groups.values() if g.params]


def _hashable(v):
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _hashable(x)) for k, x in v.items()))
    return v


class DefaultOptimWrapperConstructor:
    """MMEngine's ``DefaultOptimWrapperConstructor``: param-wise lr / weight decay rules.

    ``paramwise_cfg`` keys (MMEngine's names and meaning):

    * ``custom_keys``: ``{'backbone': dict(lr_mult=0.1, decay_mult=1.0)}``; the longest key that
      is a substring of ``'<module path>.<param name>'`` wins (ties: alphabetical); other rules
      are then ignored for that parameter. Further keys of the dict (e.g. ``momentum``) become
      options of the group.
    * ``bias_lr_mult``: lr multiplier of ``bias`` parameters (not of normalization layers).
    * ``norm_decay_mult``: weight-decay multiplier of BatchNorm/SyncBN/InstanceNorm/GroupNorm/
      LayerNorm parameters. Then, in MMEngine's order: ``bias_decay_mult`` (other biases),
      ``dwconv_decay_mult`` (depth-wise ``nn.Conv2d``, i.e. ``in_channels == groups``; like
      MMEngine, 3D convolutions are not matched), ``flat_decay_mult`` (remaining 1-D params).
    * ``bypass_duplicate``: skip parameters shared by several modules instead of failing.
    * ``dcn_offset_lr_mult`` is accepted and ignored (vidlab has no deformable convolutions).

    Without ``paramwise_cfg`` every trainable parameter goes into a single group.
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: dict | None = None):
        if not isinstance(optim_wrapper_cfg, dict):
            raise TypeError(f"optim_wrapper must be a dict, got {type(optim_wrapper_cfg).__name__}")
        if "optimizer" not in optim_wrapper_cfg:
            raise ConfigError("optim_wrapper.optimizer is missing (e.g. dict(type='SGD', lr=0.01))")
        self.optim_wrapper_cfg = dict(optim_wrapper_cfg)
        self.optimizer_cfg = dict(self.optim_wrapper_cfg["optimizer"])
        if paramwise_cfg is not None and not isinstance(paramwise_cfg, dict):
            raise TypeError(
                f"optim_wrapper.paramwise_cfg must be None or a dict, got {type(paramwise_cfg).__name__}"
            )
        self.paramwise_cfg = dict(paramwise_cfg or {})
        self.base_lr = self.optimizer_cfg.get("lr")
        self.base_wd = self.optimizer_cfg.get("weight_decay")
        self._validate_cfg()

    # ---- checks shared with MMEngine ---------------------------------------------------------
    def _validate_cfg(self) -> None:
        pc = self.paramwise_cfg
        custom = pc.get("custom_keys", {})
        if not isinstance(custom, dict):
            raise TypeError(
                f"optim_wrapper.paramwise_cfg.custom_keys must be a dict, got {type(custom).__name__}"
            )
        for key, val in custom.items():
            if not isinstance(val, dict):
                raise TypeError(
                    f"optim_wrapper.paramwise_cfg.custom_keys[{key!r}] must be a dict such as "
                    f"dict(lr_mult=0.1, decay_mult=1.0), got {val!r}"
                )
            if "decay_mult" in val and self.base_wd is None:
                raise ConfigError(
                    f"optim_wrapper.paramwise_cfg.custom_keys[{key!r}].decay_mult needs "
                    "optim_wrapper.optimizer.weight_decay to be set"
                )
            if "lr_mult" in val and self.base_lr is None:
                raise ConfigError(
                    f"optim_wrapper.paramwise_cfg.custom_keys[{key!r}].lr_mult needs "
                    "optim_wrapper.optimizer.lr to be set"
                )
        for k in ("bias_decay_mult", "norm_decay_mult", "dwconv_decay_mult", "flat_decay_mult"):
            if k in pc and self.base_wd is None:
                raise ConfigError(
                    f"optim_wrapper.paramwise_cfg.{k} needs optim_wrapper.optimizer.weight_decay to be set"
                )
        if "bias_lr_mult" in pc and self.base_lr is None:
            raise ConfigError(
                "optim_wrapper.paramwise_cfg.bias_lr_mult needs optim_wrapper.optimizer.lr to be set"
            )

    def _defaults(self) -> dict:
        opts = {}
        if self.base_lr is not None:
            opts["lr"] = self.base_lr
        if self.base_wd is not None:
            opts["weight_decay"] = self.base_wd
        return opts

    # ---- the one entry point -----------------------------------------------------------------
    def param_groups(self, model: nn.Module) -> list[_Group]:
        """Parameter groups of ``model`` (already unwrapped): trainable params only."""
        model = unwrap_model(model)
        if not self.paramwise_cfg:
            col = _GroupCollector()
            for name, p in model.named_parameters():  # de-duplicates shared params
                if p.requires_grad:
                    col.add("all", self._defaults(), p, name)
            return col.result()
        return self.build_groups(model)

    def build_groups(self, model: nn.Module) -> list[_Group]:
        col = _GroupCollector()
        self._add_params(col, model, prefix="")
        return col.result()

    def _add_params(self, col: _GroupCollector, module: nn.Module, prefix: str) -> None:
        pc = self.paramwise_cfg
        custom_keys = pc.get("custom_keys", {})
        sorted_keys = sorted(sorted(custom_keys), key=len, reverse=True)
        bias_lr_mult = pc.get("bias_lr_mult")
        bias_decay_mult = pc.get("bias_decay_mult")
        norm_decay_mult = pc.get("norm_decay_mult")
        dwconv_decay_mult = pc.get("dwconv_decay_mult")
        flat_decay_mult = pc.get("flat_decay_mult")
        bypass_duplicate = pc.get("bypass_duplicate", False)

        is_norm = isinstance(module, _NORM_TYPES)
        is_dwconv = isinstance(module, nn.Conv2d) and module.in_channels == module.groups

        for name, param in module.named_parameters(recurse=False):
            full = f"{prefix}.{name}" if prefix else name
            if not param.requires_grad:
                continue
            if id(param) in col.seen:
                if bypass_duplicate:
                    warnings.warn(
                        f"{full} is the same tensor as {col.seen[id(param)]}; skipped since "
                        "bypass_duplicate=True",
                        stacklevel=2,
                    )
                    continue
                raise ConfigError(
                    f"parameter {full} is shared with {col.seen[id(param)]} and would be in two "
                    "param groups; set optim_wrapper.paramwise_cfg.bypass_duplicate=True"
                )
            opts = self._defaults()
            label = "default"
            # MMEngine matches against f'{prefix}.{name}' of the model it is given, which in
            # MMAction2's (distributed) training is the DDP wrapper: 'module.backbone.cls_token',
            # so TimeSformer's '.backbone.cls_token' key matches there. A leading '.' on every
            # name gives that match without the wrapper (and every match MMEngine makes).
            match_name = f".{full}"
            key = next((k for k in sorted_keys if k in match_name), None)
            if key is not None:
                label = f"custom[{key}]"
                cfg = custom_keys[key]
                if cfg.get("requires_grad", True) is False:  # older MMEngine: freeze by key
                    param.requires_grad_(False)
                    continue
                if self.base_lr is not None:
                    opts["lr"] = self.base_lr * cfg.get("lr_mult", 1.0)
                if self.base_wd is not None:
                    opts["weight_decay"] = self.base_wd * cfg.get("decay_mult", 1.0)
                for k, v in cfg.items():
                    if k not in ("lr_mult", "decay_mult", "requires_grad"):
                        opts[k] = v
            else:
                if name == "bias" and not is_norm and bias_lr_mult is not None:
                    opts["lr"] = self.base_lr * bias_lr_mult
                    label = "bias"
                if self.base_wd is not None:
                    if is_norm and norm_decay_mult is not None:
                        opts["weight_decay"] = self.base_wd * norm_decay_mult
                        label = "norm"
                    elif name == "bias" and bias_decay_mult is not None:
                        opts["weight_decay"] = self.base_wd * bias_decay_mult
                        label = "bias"
                    elif is_dwconv and dwconv_decay_mult is not None:
                        opts["weight_decay"] = self.base_wd * dwconv_decay_mult
                        label = "dwconv"
                    elif param.ndim == 1 and flat_decay_mult is not None:
                        opts["weight_decay"] = self.base_wd * flat_decay_mult
                        label = "flat"
            col.add(label, opts, param, full)

        for child_name, child in module.named_children():
            self._add_params(col, child, f"{prefix}.{child_name}" if prefix else child_name)


class SwinOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """MMAction2's ``SwinOptimWrapperConstructor``: the keys of ``paramwise_cfg`` itself are the
    rules, e.g. ``paramwise_cfg=dict(absolute_pos_embed=dict(decay_mult=0.),
    relative_position_bias_table=dict(decay_mult=0.), norm=dict(decay_mult=0.),
    backbone=dict(lr_mult=0.1))`` (the Swin configs' layout). Every key that is a substring of
    ``'base.<module path>.<param name>'`` applies (MMAction2 starts the prefix at ``'base'``),
    and their multipliers multiply. vidlab also takes the same rules under ``custom_keys``."""

    def _validate_cfg(self) -> None:
        super()._validate_cfg()
        for key, val in self._rules().items():
            if not isinstance(val, dict):
                raise TypeError(
                    f"optim_wrapper.paramwise_cfg[{key!r}] must be a dict such as "
                    f"dict(lr_mult=0.1, decay_mult=0.0) for SwinOptimWrapperConstructor, "
                    f"got {val!r}"
                )

    def _rules(self) -> dict:
        rules = {k: v for k, v in self.paramwise_cfg.items() if k != "custom_keys"}
        rules.update(self.paramwise_cfg.get("custom_keys", {}))
        return rules

    def _add_params(self, col: _GroupCollector, module: nn.Module, prefix: str) -> None:
        rules = self._rules()
        for name, param in module.named_parameters(recurse=False):
            full = f"{prefix}.{name}" if prefix else name
            if not param.requires_grad or id(param) in col.seen:
                continue
            opts = self._defaults()
            keys = [k for k in rules if k in f"base.{full}"]
            for k in keys:
                if "lr" in opts:
                    opts["lr"] *= rules[k].get("lr_mult", 1.0)
                if "weight_decay" in opts:
                    opts["weight_decay"] *= rules[k].get("decay_mult", 1.0)
            label = "custom[" + "+".join(sorted(keys)) + "]" if keys else "default"
            col.add(label, opts, param, full)
        for child_name, child in module.named_children():
            self._add_params(col, child, f"{prefix}.{child_name}" if prefix else child_name)


class TSMOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """MMAction2's ``TSMOptimWrapperConstructor`` (``paramwise_cfg=dict(fc_lr5=True)``).

    Groups, in MMAction2's order: the first convolution's weight (lr, wd) and bias (2x lr, no
    wd); other conv/linear weights (lr, wd) and biases (2x lr, no wd); normalization parameters
    (lr, no wd); and with ``fc_lr5`` the classifier's weight (5x lr, wd) and bias (10x lr, no
    wd). The classifier is ``cls_head.fc_cls`` when the model has one, else (as MMAction2) the
    last conv/linear layer. MMAction2 rejects a layer type it has no rule for; so does vidlab.
    """

    def build_groups(self, model: nn.Module) -> list[_Group]:
        fc_lr5 = bool(self.paramwise_cfg.get("fc_lr5", False))
        base_lr, base_wd = self.base_lr, self.base_wd
        if base_lr is None:
            raise ConfigError("TSMOptimWrapperConstructor needs optim_wrapper.optimizer.lr")
        wd = base_wd if base_wd is not None else 0.0
        first_w, first_b, normal_w, normal_b, bn = [], [], [], [], []
        layers = []  # (name, module) of conv/linear layers, in traversal order
        conv_cnt = 0
        for mname, m in model.named_modules():
            if isinstance(m, _ConvNd):
                conv_cnt += 1
                (first_w if conv_cnt == 1 else normal_w).append((f"{mname}.weight", m.weight))
                if m.bias is not None:
                    (first_b if conv_cnt == 1 else normal_b).append((f"{mname}.bias", m.bias))
                layers.append((mname, m))
            elif isinstance(m, nn.Linear):
                normal_w.append((f"{mname}.weight", m.weight))
                if m.bias is not None:
                    normal_b.append((f"{mname}.bias", m.bias))
                layers.append((mname, m))
            elif isinstance(m, _NORM_TYPES):
                bn.extend((f"{mname}.{n}", p) for n, p in m.named_parameters(recurse=False))
            else:
                own = list(m.named_parameters(recurse=False))
                if own:
                    raise ConfigError(
                        f"TSMOptimWrapperConstructor has no learning-rate rule for "
                        f"{type(m).__name__} ({mname or 'the model'}: parameters "
                        f"{', '.join(n for n, _ in own)}); use "
                        "optim_wrapper.constructor='DefaultOptimWrapperConstructor'"
                    )
        lr5_w, lr10_b = [], []
        if layers:
            modules = dict(model.named_modules())
            fc_name = "cls_head.fc_cls" if "cls_head.fc_cls" in modules else layers[-1][0]
            fc = modules[fc_name]
            if isinstance(fc, (_ConvNd, nn.Linear)) and fc_lr5:
                fc_ids = {id(p) for p in fc.parameters(recurse=False)}
                for src, dst in (
                    (normal_w, lr5_w),
                    (normal_b, lr10_b),
                    (first_w, lr5_w),
                    (first_b, lr10_b),
                ):
                    keep = [(n, p) for n, p in src if id(p) not in fc_ids]
                    dst.extend((n, p) for n, p in src if id(p) in fc_ids)
                    src[:] = keep
        spec = [
            ("first_conv_weight", first_w, base_lr, wd),
            ("first_conv_bias", first_b, base_lr * 2, 0),
            ("normal_weight", normal_w, base_lr, wd),
            ("normal_bias", normal_b, base_lr * 2, 0),
            ("bn", bn, base_lr, 0),
            ("lr5_weight", lr5_w, base_lr * 5, wd),
            ("lr10_bias", lr10_b, base_lr * 10, 0),
        ]
        groups = []
        seen: set[int] = set()
        for label, items, lr, gwd in spec:
            g = _Group(label, {"lr": lr, "weight_decay": gwd})
            for n, p in items:
                if p.requires_grad and id(p) not in seen:
                    seen.add(id(p))
                    g.params.append(p)
                    g.names.append(n)
            if g.params:
                groups.append(g)
        return groups


# --------------------------------------------------------------------------------------------
# Names of groups and their comparison
# --------------------------------------------------------------------------------------------
def _scope(names: list[str]) -> str:
    tops = []
    for n in names:
        top = n.split(".", 1)[0] if "." in n else "(root)"
        if top not in tops:
            tops.append(top)
    return ", ".join(tops)


_STD_KEYS = ("lr", "weight_decay")


def group_name(label: str, names: list[str], options: dict) -> str:
    """``'<label>: <top-level modules> (lr .., wd .., <options>, N params)'``."""
    parts = []
    if "lr" in options:
        parts.append(f"lr {_fmt(float(options['lr']))}")
    if "weight_decay" in options:
        parts.append(f"wd {_fmt(float(options['weight_decay']))}")
    for k in sorted(options):
        if k not in _STD_KEYS:
            parts.append(f"{k} {_fmt(options[k])}")
    parts.append(f"{len(names)} params")
    return f"{label}: {_scope(names)} ({', '.join(parts)})"


_NAME_RE = re.compile(
    r"^(?P<label>[^:]+): (?P<scope>.*) \((?P<opts>[^()]*(?:\([^()]*\)[^()]*)*)\)$"
)


def _parse_name(s: str) -> dict | None:
    m = _NAME_RE.match(s)
    if not m:
        return None
    opts = {}
    n = None
    for part in re.split(r", (?![^(]*\))", m.group("opts")):
        if part.endswith(" params"):
            try:
                n = int(part[: -len(" params")])
            except ValueError:
                return None
        else:
            k, _, v = part.partition(" ")
            opts[k] = v
    return {"label": m.group("label"), "scope": m.group("scope"), "n": n, "opts": opts}


def compare_group_layout(
    saved_names: list[str], current_names: list[str], *, structure_only: bool = False
) -> list[str]:
    """What differs between two param-group layouts (``OptimSetup.group_names``).

    Returns one line per difference (an empty list when they are the same): groups only in the
    checkpoint, groups only in the current model, a different number of parameters or different
    lr / weight decay / options in a group, and groups in a different order. Torch can restore
    an optimizer state only when the number of groups and of params per group agree; with
    ``structure_only=True`` only such differences are reported (not a changed lr or weight
    decay, e.g. from another ``auto_scale_lr`` factor: the checkpoint's values are restored with
    the optimizer state anyway).
    """
    saved_names, current_names = list(saved_names or []), list(current_names or [])
    if saved_names == current_names:
        return []
    out = []
    if len(saved_names) != len(current_names):
        out.append(
            f"number of param groups: {len(saved_names)} in the checkpoint, {len(current_names)} now"
        )
    parsed_s = [_parse_name(s) for s in saved_names]
    parsed_c = [_parse_name(s) for s in current_names]
    if any(p is None for p in parsed_s + parsed_c):
        for i in range(max(len(saved_names), len(current_names))):
            a = saved_names[i] if i < len(saved_names) else None
            b = current_names[i] if i < len(current_names) else None
            if a != b:
                out.append(f"group {i}: checkpoint {a!r}, now {b!r}")
        return out

    def key(p):
        return (p["label"], p["scope"])

    cur_index = {}
    for i, p in enumerate(parsed_c):
        cur_index.setdefault(key(p), i)
    saved_index = {}
    for i, p in enumerate(parsed_s):
        saved_index.setdefault(key(p), i)
    for i, p in enumerate(parsed_s):
        j = cur_index.get(key(p))
        if j is None:
            out.append(f"group {i} '{saved_names[i]}' is only in the checkpoint")
            continue
        q = parsed_c[j]
        diffs = []
        if p["n"] != q["n"]:
            diffs.append(f"{p['n']} params in the checkpoint, {q['n']} now")
        for k in sorted(set(p["opts"]) | set(q["opts"])) if not structure_only else ():
            a, b = p["opts"].get(k, "-"), q["opts"].get(k, "-")
            if a != b:
                diffs.append(f"{k} {a} in the checkpoint, {b} now")
        if i != j:
            diffs.append(f"position {i} in the checkpoint, {j} now")
        if diffs:
            out.append(f"group '{p['label']}: {p['scope']}': " + "; ".join(diffs))
    for j, q in enumerate(parsed_c):
        if key(q) not in saved_index:
            out.append(f"group {j} '{current_names[j]}' is new (not in the checkpoint)")
    return out


def describe_param_groups(optimizer: torch.optim.Optimizer) -> list[dict]:
    """One dict per param group: index, name, lr, initial_lr, weight_decay, momentum/betas,
    number of parameter tensors and of elements."""
    out = []
    for i, g in enumerate(optimizer.param_groups):
        d = {
            "index": i,
            "name": g.get("group_name", f"group_{i}"),
            "lr": g.get("lr"),
            "initial_lr": g.get("initial_lr", g.get("lr")),
            "weight_decay": g.get("weight_decay"),
            "num_params": len(g["params"]),
            "num_elements": int(sum(p.numel() for p in g["params"])),
        }
        if "momentum" in g:
            d["momentum"] = g["momentum"]
        if "betas" in g:
            d["betas"] = tuple(g["betas"])
        out.append(d)
    return out


def _fmt(x) -> str:
    if isinstance(x, float):
        return f"{x:.6g}"
    if isinstance(x, (tuple, list)):
        return "(" + ", ".join(_fmt(v) for v in x) + ")"
    return str(x)


def __getattr__(name: str):
    # layer-wise decay lives in vidlab.engine.layer_decay (imported here lazily: it imports us)
    if name in ("LearningRateDecayOptimizerConstructor", "NO_DECAY_NAMES"):
        from vidlab.engine import layer_decay

        return getattr(layer_decay, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
