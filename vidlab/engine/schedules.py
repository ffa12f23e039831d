"""Learning-rate and momentum schedules from MMEngine-style ``param_scheduler`` configs.

``build_schedulers(optimizer, cfg.param_scheduler, max_epochs=..., iters_per_epoch=...)``
understands MMEngine's scheduler names and arguments (``LinearLR``, ``CosineAnnealingLR``,
``MultiStepLR``, ... with ``begin``, ``end``, ``by_epoch``, ``convert_to_iter_based``) and
returns a :class:`ParamSchedulers`. The training loop calls ``step_iter(global_iter)`` before
every iteration; it sets ``lr`` (and momentum, for momentum schedulers) of every param group.

How values are computed
-----------------------
MMEngine updates a value recursively: each scheduler multiplies the *current* value of the
group by a ratio at every step, so schedulers active at the same time compose. vidlab computes
the same values in closed form, as a pure function of the iteration: for each param group the
base value (the group's initial lr) is passed through the schedulers in list order; a scheduler
not yet begun leaves the value alone, an active one maps it, and one that has ended keeps
applying its last value::

    v = base
    for s in schedulers:            # list order
        if step(s) >= s.begin:      # step = iteration, or epoch = iteration // iters_per_epoch
            v = s.map(v, min(step(s), s.end - 1) - s.begin)

``map`` is the solved form of MMEngine's recursion started from ``v``: ``v * factor`` for
LinearLR/ConstantLR/StepLR/MultiStepLR/ExponentialLR, ``eta_min + (v - eta_min) *
(1 + cos(pi * s / T_max)) / 2`` for CosineAnnealingLR, ``eta_min + (v - eta_min) *
(1 - s / T) ** power`` for PolyLR; OneCycleLR and CosineRestartLR set absolute values as
MMEngine's do. This equals MMEngine's chained value in every case where at most one
non-multiplicative scheduler (cosine / poly with a non-zero ``eta_min``) is active at a time —
warm-up followed by cosine, warm-up overlapping multi-step, warm-up overlapping a cosine with
``eta_min=0``, ... (tests compare with a step-by-step replay of MMEngine's formulas).

Where they differ (a warm-up overlapping a cosine or poly schedule with ``eta_min > 0``),
MMEngine's value depends on the order in which ratios were applied in the past, and it does not
reach the exact cosine curve after the warm-up ends; vidlab gives ``cosine(warm-up * base)``,
which equals the intended curve as soon as the warm-up is over. vidlab follows the closed form
because it makes the value a function of the iteration alone: a resumed run sets exactly the
same learning rates as an uninterrupted one, with nothing to replay or store but the base
values. Also, past ``T_max`` a cosine continues periodically from the group's current value
(MMEngine's recursion pins that point to the base value; it only matters when ``end - begin >
T_max + 1``).

Defaults and checks follow MMEngine's runner: ``by_epoch=True``; ``end`` defaults to the end of
training (``max_epochs``, or total iterations when ``by_epoch=False``); ``convert_to_iter_based``
turns an epoch schedule into an iteration one (``begin``/``end`` become ``int(x *
iters_per_epoch)``, and ``T_max``/``milestones``/``step_size``/``total_steps``/``periods`` are
multiplied by it). An ``end`` past the end of training is cut there with a note (MMEngine
tolerates it: a run shortened with ``train_cfg.max_epochs``); ``begin >= end`` is an error.
"""

from __future__ import annotations

import copy
import difflib
import inspect
import math
import warnings
from collections.abc import Mapping, Sequence

import torch

from vidlab.config import resolve_type
from vidlab.config.errors import ConfigError
from vidlab.engine.param_schedulers import (
    BaseParamScheduler,
    LinearParamScheduler,
    OneCycleParamScheduler,
)

__all__ = ["build_schedulers", "ParamSchedulers", "INF"]

INF = int(1e9)


_UNSUPPORTED = {
    "ReduceOnPlateauLR": "it depends on validation metrics, not on the iteration",
    "ReduceOnPlateauMomentum": "it depends on validation metrics, not on the iteration",
    "ReduceOnPlateauParamScheduler": "it depends on validation metrics, not on the iteration",
}


# --------------------------------------------------------------------------------------------
# The set of schedulers bound to an optimizer
# --------------------------------------------------------------------------------------------
def _group_value(group: dict, name: str) -> float:
    if name == "momentum" and "momentum" not in group and "betas" in group:
        return group["betas"][0]
    return group[name]


def _set_group_value(group: dict, name: str, value: float) -> None:
    if name == "momentum" and "momentum" not in group and "betas" in group:
        group["betas"] = (value, *tuple(group["betas"])[1:])
    else:
        group[name] = value


class ParamSchedulers:
    """The schedulers of a run, bound to the optimizer. ``step_iter(t)`` before iteration ``t``."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        schedulers: list[BaseParamScheduler],
        *,
        max_epochs: int,
        iters_per_epoch: int,
    ):
        self.optimizer = optimizer
        self.schedulers = list(schedulers)
        self.max_epochs = max_epochs
        self.iters_per_epoch = iters_per_epoch
        self.last_iter: int | None = None
        self.param_names = []
        for s in self.schedulers:
            if s.param_name not in self.param_names:
                self.param_names.append(s.param_name)
        self.base_values: dict[str, list[float]] = {}
        for name in self.param_names:
            vals = []
            for g in optimizer.param_groups:
                base = g.setdefault(f"initial_{name}", _group_value(g, name))
                vals.append(base)
            self.base_values[name] = vals

    def __len__(self) -> int:
        return len(self.schedulers)

    def __iter__(self):
        return iter(self.schedulers)

    def values_at(self, global_iter: int) -> dict[str, list[float]]:
        """The value of every scheduled parameter for every group at iteration ``global_iter``
        (0-based), without touching the optimizer."""
        if global_iter < 0:
            raise ConfigError(f"global_iter must be >= 0, got {global_iter}")
        epoch = global_iter // self.iters_per_epoch
        out = {}
        for name in self.param_names:
            bases = self.base_values[name]
            vals = list(bases)
            for s in self.schedulers:
                if s.param_name != name:
                    continue
                unit = epoch if s.by_epoch else global_iter
                if unit < s._first:
                    continue
                step = min(unit, s._last) - s._first
                vals = [s.map(v, step, b, i) for i, (v, b) in enumerate(zip(vals, bases))]
            out[name] = vals
        return out

    def step_iter(self, global_iter: int) -> None:
        """Set the values for iteration ``global_iter`` (call before that iteration runs)."""
        for name, vals in self.values_at(global_iter).items():
            for g, v in zip(self.optimizer.param_groups, vals):
                _set_group_value(g, name, v)
        self.last_iter = global_iter

    def current_lrs(self) -> list[float]:
        return [g["lr"] for g in self.optimizer.param_groups]

    def describe(self) -> list[dict]:
        return [s.describe() for s in self.schedulers]

    def state_dict(self) -> dict:
        return {
            "base_values": {k: list(v) for k, v in self.base_values.items()},
            "last_iter": self.last_iter,
            "schedulers": self.describe(),
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore the base values saved by :meth:`state_dict` (values are a function of the
        iteration, so nothing else is needed; call ``step_iter`` for the next iteration)."""
        saved = state.get("base_values", {})
        n = len(self.optimizer.param_groups)
        for name, vals in saved.items():
            if name not in self.base_values:
                continue  # the new config no longer schedules it
            if len(vals) != n:
                raise ConfigError(
                    f"scheduler state has base values for {len(vals)} param groups, the "
                    f"optimizer has {n}; the param group layout changed"
                )
            self.base_values[name] = list(vals)
            for g, v in zip(self.optimizer.param_groups, vals):
                g[f"initial_{name}"] = v
        self.last_iter = state.get("last_iter")


# --------------------------------------------------------------------------------------------
# build_schedulers
# --------------------------------------------------------------------------------------------
def _close(name, choices) -> str:
    m = difflib.get_close_matches(str(name), list(choices), n=3, cutoff=0.6)
    return f"; did you mean {', '.join(repr(x) for x in m)}?" if m else ""


def _resolve(t, key):
    name = t if isinstance(t, str) else getattr(t, "__name__", None)
    if name in _UNSUPPORTED:
        raise ConfigError(f"{key}.type: {name} is not supported by vidlab: {_UNSUPPORTED[name]}")
    cls = resolve_type(t, key_path=f"{key}.type")
    if inspect.isclass(cls) and issubclass(cls, BaseParamScheduler):
        return cls
    raise ConfigError(
        f"{key}.type: {name or t!r} is not a parameter scheduler (e.g. 'LinearLR', "
        "'CosineAnnealingLR', 'MultiStepLR')"
    )


def build_schedulers(
    optimizer: torch.optim.Optimizer,
    param_scheduler: dict | list | None,
    *,
    max_epochs: int,
    iters_per_epoch: int,
    notes: list[str] | None = None,
) -> ParamSchedulers:
    """Bind the ``param_scheduler`` config (a dict, a list of dicts, or None) to ``optimizer``.

    A schedule whose ``end`` lies past the end of training is cut there (one left to begin
    after it is left out), as MMEngine tolerates; one note says which: appended to ``notes``
    when given, else printed.

    Raises ValueError naming ``param_scheduler[i].<key>`` for an unknown type or argument,
    ``begin >= end``, and the like.
    """
    if not isinstance(iters_per_epoch, int) or iters_per_epoch < 1:
        raise ConfigError(f"iters_per_epoch must be a positive integer, got {iters_per_epoch!r}")
    if not isinstance(max_epochs, int) or max_epochs < 1:
        raise ConfigError(f"max_epochs must be a positive integer, got {max_epochs!r}")
    if param_scheduler is None:
        cfgs = []
    elif isinstance(param_scheduler, Mapping) or isinstance(param_scheduler, BaseParamScheduler):
        cfgs = [param_scheduler]
    elif isinstance(param_scheduler, Sequence) and not isinstance(param_scheduler, str):
        cfgs = list(param_scheduler)
    else:
        raise ConfigError(
            f"param_scheduler must be a dict or a list of dicts, got {param_scheduler!r}"
        )
    total_iters = max_epochs * iters_per_epoch
    specs = []
    clamped: list[str] = []
    for i, cfg in enumerate(cfgs):
        key = (
            f"param_scheduler[{i}]"
            if len(cfgs) > 1 or isinstance(param_scheduler, list)
            else "param_scheduler"
        )
        if isinstance(cfg, BaseParamScheduler):
            spec = cfg
        else:
            if not isinstance(cfg, Mapping) or "type" not in cfg:
                raise ConfigError(f"{key} must be a dict with a type, got {cfg!r}")
            cls = _resolve(cfg["type"], key)
            kwargs = {k: v for k, v in cfg.items() if k != "type"}
            allowed = [p for p in inspect.signature(cls).parameters if p != "optimizer"]
            for k in kwargs:
                if k not in allowed:
                    raise ConfigError(
                        f"{key}.{k}: unexpected argument for {cls.__name__}{_close(k, allowed)}"
                    )
            kwargs.pop("optimizer", None)
            spec = cls(**kwargs)
        spec = _resolve_spec(
            spec, key, optimizer, max_epochs, iters_per_epoch, total_iters, clamped
        )
        if spec is not None:
            specs.append(spec)
    if clamped:
        note = (
            f"note: training ends after {max_epochs} epochs (train_cfg.max_epochs), before the end "
            f"of these schedules, which were cut there: {'; '.join(clamped)}"
        )
        if notes is None:
            print(note, flush=True)
        else:
            notes.append(note)
    return ParamSchedulers(optimizer, specs, max_epochs=max_epochs, iters_per_epoch=iters_per_epoch)


def _resolve_spec(spec, key, optimizer, max_epochs, ipe, total_iters, notes):
    spec = copy.copy(spec)  # never convert a caller's object in place
    spec._check(key)
    name = spec.param_name
    g0 = optimizer.param_groups[0] if optimizer.param_groups else {}
    if name == "momentum":
        if "momentum" not in g0 and "betas" not in g0:
            raise ConfigError(
                f"{key}.type: {type(spec).__name__} schedules momentum, but "
                f"{type(optimizer).__name__} has neither momentum nor betas"
            )
    elif name not in g0:
        raise ConfigError(
            f"{key}.param_name: {type(optimizer).__name__} param groups have no {name!r}"
            f"{_close(name, [k for k in g0 if k != 'params'])}"
        )
    if spec.convert_to_iter_based and not spec.by_epoch:
        raise ConfigError(
            f"{key}.convert_to_iter_based=True needs by_epoch=True (it converts epochs to iterations)"
        )
    limit = max_epochs if spec.by_epoch else total_iters
    if spec.end is None or spec.end == INF:
        spec.end = limit
    if spec.begin < 0:
        raise ConfigError(f"{key}.begin must be >= 0, got {spec.begin}")
    if spec.end > limit:
        # As MMEngine tolerates (a run shortened with --cfg-options train_cfg.max_epochs=N):
        # the schedule stops where training does; the caller prints the notes once.
        if spec.begin >= limit:
            notes.append(f"{key} (begin {spec.begin}) starts after the end of training: left out")
            return None
        notes.append(f"{key}.end {spec.end} -> {limit}")
        spec.end = limit
    if spec.begin >= spec.end:
        raise ConfigError(f"{key}: begin ({spec.begin}) must be smaller than end ({spec.end})")
    if spec.convert_to_iter_based:
        spec.begin = int(spec.begin * ipe)
        spec.end = int(spec.end * ipe)
        for arg in spec._step_args:
            v = getattr(spec, arg)
            if v is None:
                continue
            setattr(spec, arg, [x * ipe for x in v] if isinstance(v, (list, tuple)) else v * ipe)
        spec.by_epoch = False
        spec.convert_to_iter_based = False
        if spec.begin >= spec.end:
            raise ConfigError(
                f"{key}: begin and end cover less than one iteration after "
                f"convert_to_iter_based ({ipe} iterations per epoch)"
            )
    spec._finalize()
    if (
        isinstance(spec, LinearParamScheduler)
        and spec.total_iters <= 0
        and spec.start_factor != spec.end_factor
    ):
        warnings.warn(
            f"{key}: {type(spec).__name__} spans a single {'epoch' if spec.by_epoch else 'step'} "
            f"(begin {spec.begin}, end {spec.end}), so start_factor={spec.start_factor} stays "
            "for the rest of training (as in MMEngine); for a warm-up over epochs add "
            "convert_to_iter_based=True",
            stacklevel=3,
        )
    spec._first = math.ceil(spec.begin)
    spec._last = math.ceil(spec.end) - 1
    if isinstance(spec, OneCycleParamScheduler):
        if isinstance(spec.eta_max, (list, tuple)) and len(spec.eta_max) != len(
            optimizer.param_groups
        ):
            raise ConfigError(
                f"{key}.eta_max has {len(spec.eta_max)} values, the optimizer has "
                f"{len(optimizer.param_groups)} param groups"
            )
        if spec._last - spec._first > spec._total:
            raise ConfigError(
                f"{key}.total_steps = {spec._total} is shorter than the schedule "
                f"(begin {spec.begin} to end {spec.end}); raise total_steps or lower end"
            )
    return spec
