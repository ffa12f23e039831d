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
multiplied by it). vidlab rejects an ``end`` past the end of training and ``begin >= end``.
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

__all__ = ["build_schedulers", "ParamSchedulers", "INF"]

INF = int(1e9)


# --------------------------------------------------------------------------------------------
# Scheduler specs: config holders with MMEngine's signatures and a closed-form map.
# --------------------------------------------------------------------------------------------
class _ParamScheduler:
    """Base of every scheduler spec. Not bound to an optimizer: ``optimizer`` is accepted (and
    ignored) so that MMEngine's signature validates; :func:`build_schedulers` supplies it."""

    chainable = True
    _step_args: tuple[str, ...] = ()  # arguments measured in steps (scaled by conversion)

    def __init__(
        self,
        optimizer=None,
        param_name: str = "lr",
        begin: float = 0,
        end: float | None = None,
        last_step: int = -1,
        by_epoch: bool = True,
        verbose: bool = False,
        convert_to_iter_based: bool = False,
    ):
        self.param_name = param_name
        self.begin = begin
        self.end = end
        self.by_epoch = bool(by_epoch)
        self.convert_to_iter_based = bool(convert_to_iter_based)
        self.last_step = last_step
        self.verbose = verbose

    # set by build_schedulers
    _first: int = 0
    _last: int = 0

    def _finalize(self) -> None:
        """Compute quantities that depend on the final begin/end (after defaults/conversion)."""

    def _check(self, key: str) -> None:
        """Validate arguments; ``key`` is the config path, e.g. ``param_scheduler[1]``."""

    def map(self, value: float, step: int, base: float, group: int) -> float:  # pragma: no cover
        raise NotImplementedError

    def describe(self) -> dict:
        d = {"type": type(self).__name__}
        for k in inspect.signature(type(self).__init__).parameters:
            if k in ("self", "optimizer", "verbose", "last_step"):
                continue
            if hasattr(self, k):
                v = getattr(self, k)
                d[k] = list(v) if isinstance(v, tuple) else v
        return d


class ConstantParamScheduler(_ParamScheduler):
    """Multiplies the value by ``factor`` until ``end`` (the last step restores it)."""

    def __init__(
        self,
        optimizer=None,
        param_name="lr",
        factor=1.0 / 3,
        begin=0,
        end=None,
        last_step=-1,
        by_epoch=True,
        verbose=False,
        convert_to_iter_based=False,
    ):
        super().__init__(
            optimizer, param_name, begin, end, last_step, by_epoch, verbose, convert_to_iter_based
        )
        self.factor = factor

    def _check(self, key):
        if not 0 <= self.factor <= 1:
            raise ConfigError(f"{key}.factor must be between 0 and 1, got {self.factor}")

    def _finalize(self):
        self.total_iters = self.end - self.begin - 1

    def map(self, value, step, base, group):
        if step == 0 or step < self.total_iters:
            return value * self.factor
        return value


class LinearParamScheduler(_ParamScheduler):
    """Multiplies the value by a factor going linearly from ``start_factor`` (at ``begin``) to
    ``end_factor`` (at ``end - 1``)."""

    def __init__(
        self,
        optimizer=None,
        param_name="lr",
        start_factor=1.0 / 3,
        end_factor=1.0,
        begin=0,
        end=None,
        last_step=-1,
        by_epoch=True,
        verbose=False,
        convert_to_iter_based=False,
    ):
        super().__init__(
            optimizer, param_name, begin, end, last_step, by_epoch, verbose, convert_to_iter_based
        )
        self.start_factor = start_factor
        self.end_factor = end_factor

    def _check(self, key):
        for k in ("start_factor", "end_factor"):
            v = getattr(self, k)
            if not 0 <= v <= 1:
                raise ConfigError(f"{key}.{k} must be between 0 and 1, got {v}")

    def _finalize(self):
        self.total_iters = self.end - self.begin - 1

    def map(self, value, step, base, group):
        if self.total_iters <= 0:
            return value * self.start_factor
        frac = min(step, self.total_iters) / self.total_iters
        return value * (self.start_factor + (self.end_factor - self.start_factor) * frac)


class StepParamScheduler(_ParamScheduler):
    """Multiplies the value by ``gamma`` every ``step_size`` steps."""

    _step_args = ("step_size",)

    def __init__(
        self,
        optimizer=None,
        param_name="lr",
        step_size=1,
        gamma=0.1,
        begin=0,
        end=None,
        last_step=-1,
        by_epoch=True,
        verbose=False,
        convert_to_iter_based=False,
    ):
        super().__init__(
            optimizer, param_name, begin, end, last_step, by_epoch, verbose, convert_to_iter_based
        )
        self.step_size = step_size
        self.gamma = gamma

    def _check(self, key):
        if not self.step_size or self.step_size <= 0:
            raise ConfigError(f"{key}.step_size must be positive, got {self.step_size}")

    def map(self, value, step, base, group):
        return value * self.gamma ** (step // self.step_size)


class MultiStepParamScheduler(_ParamScheduler):
    """Multiplies the value by ``gamma`` at each milestone (counted from ``begin``, as MMEngine)."""

    _step_args = ("milestones",)

    def __init__(
        self,
        optimizer=None,
        param_name="lr",
        milestones=(),
        gamma=0.1,
        last_step=-1,
        begin=0,
        end=None,
        by_epoch=True,
        verbose=False,
        convert_to_iter_based=False,
    ):
        super().__init__(
            optimizer, param_name, begin, end, last_step, by_epoch, verbose, convert_to_iter_based
        )
        self.milestones = list(milestones)
        self.gamma = gamma

    def _check(self, key):
        if any(not isinstance(m, (int, float)) for m in self.milestones):
            raise ConfigError(f"{key}.milestones must be a list of numbers, got {self.milestones}")

    def map(self, value, step, base, group):
        n = sum(1 for m in self.milestones if 0 <= m <= step)
        return value * self.gamma**n


class ExponentialParamScheduler(_ParamScheduler):
    """Multiplies the value by ``gamma`` every step."""

    def __init__(
        self,
        optimizer=None,
        param_name="lr",
        gamma=0.1,
        begin=0,
        end=None,
        last_step=-1,
        by_epoch=True,
        verbose=False,
        convert_to_iter_based=False,
    ):
        super().__init__(
            optimizer, param_name, begin, end, last_step, by_epoch, verbose, convert_to_iter_based
        )
        self.gamma = gamma

    def map(self, value, step, base, group):
        return value * self.gamma**step


class CosineAnnealingParamScheduler(_ParamScheduler):
    """Cosine from the incoming value to ``eta_min`` (or ``eta_min_ratio`` x the group's base
    value) over ``T_max`` steps (default ``end - begin``)."""

    _step_args = ("T_max",)

    def __init__(
        self,
        optimizer=None,
        param_name="lr",
        T_max=None,
        eta_min=None,
        begin=0,
        end=None,
        last_step=-1,
        by_epoch=True,
        verbose=False,
        eta_min_ratio=None,
        convert_to_iter_based=False,
    ):
        super().__init__(
            optimizer, param_name, begin, end, last_step, by_epoch, verbose, convert_to_iter_based
        )
        self.T_max = T_max
        self.eta_min = eta_min
        self.eta_min_ratio = eta_min_ratio

    def _check(self, key):
        if self.eta_min is not None and self.eta_min_ratio is not None:
            raise ConfigError(f"{key}: give either eta_min or eta_min_ratio, not both")
        if self.T_max is not None and self.T_max <= 0:
            raise ConfigError(f"{key}.T_max must be positive, got {self.T_max}")

    def _finalize(self):
        self._T = self.T_max or (self.end - self.begin)
        if self.eta_min is None and self.eta_min_ratio is None:
            self.eta_min = 0.0

    def map(self, value, step, base, group):
        eta = self.eta_min if self.eta_min_ratio is None else base * self.eta_min_ratio
        return eta + (value - eta) * (1 + math.cos(math.pi * step / self._T)) / 2


class PolyParamScheduler(_ParamScheduler):
    """``eta_min + (v - eta_min) * (1 - s / T) ** power`` with ``T = end - begin - 1``."""

    def __init__(
        self,
        optimizer=None,
        param_name="lr",
        eta_min=0,
        power=1.0,
        begin=0,
        end=None,
        last_step=-1,
        by_epoch=True,
        verbose=False,
        convert_to_iter_based=False,
    ):
        super().__init__(
            optimizer, param_name, begin, end, last_step, by_epoch, verbose, convert_to_iter_based
        )
        self.eta_min = eta_min
        self.power = power

    def _finalize(self):
        self.total_iters = self.end - self.begin - 1

    def map(self, value, step, base, group):
        if self.total_iters <= 0:
            return value
        frac = 1 - min(step, self.total_iters) / self.total_iters
        return self.eta_min + (value - self.eta_min) * frac**self.power


class OneCycleParamScheduler(_ParamScheduler):
    """The 1cycle policy (MMEngine's ``OneCycleLR``): from ``eta_max / div_factor`` up to
    ``eta_max`` over ``pct_start`` of ``total_steps`` (default ``end - begin``), then down to
    ``eta_max / div_factor / final_div_factor``. Absolute values (not chained), and, as in
    MMEngine, the same for every param group unless ``eta_max`` is a list (one per group)."""

    chainable = False
    _step_args = ("total_steps",)

    def __init__(
        self,
        optimizer=None,
        param_name="lr",
        eta_max=0,
        total_steps=None,
        pct_start=0.3,
        anneal_strategy="cos",
        div_factor=25.0,
        final_div_factor=1e4,
        three_phase=False,
        begin=0,
        end=None,
        last_step=-1,
        by_epoch=True,
        verbose=False,
        convert_to_iter_based=False,
    ):
        super().__init__(
            optimizer, param_name, begin, end, last_step, by_epoch, verbose, convert_to_iter_based
        )
        self.eta_max = eta_max
        self.total_steps = total_steps
        self.pct_start = pct_start
        self.anneal_strategy = anneal_strategy
        self.div_factor = div_factor
        self.final_div_factor = final_div_factor
        self.three_phase = three_phase

    def _check(self, key):
        if self.param_name != "lr":
            raise ConfigError(
                f"{key}: OneCycle schedules only 'lr', got param_name={self.param_name!r}"
            )
        if self.total_steps is not None and (
            not isinstance(self.total_steps, int) or self.total_steps <= 0
        ):
            raise ConfigError(
                f"{key}.total_steps must be a positive integer, got {self.total_steps}"
            )
        if not 0 <= self.pct_start <= 1:
            raise ConfigError(f"{key}.pct_start must be between 0 and 1, got {self.pct_start}")
        if self.anneal_strategy not in ("cos", "linear"):
            raise ConfigError(
                f"{key}.anneal_strategy must be 'cos' or 'linear', got {self.anneal_strategy!r}"
            )

    def _finalize(self):
        total = self.total_steps if self.total_steps is not None else self.end - self.begin
        self._total = total
        p = float(self.pct_start)
        if self.three_phase:
            self._phases = [
                (float(p * total) - 1, "initial", "max"),
                (float(2 * p * total) - 2, "max", "initial"),
                (total - 1, "initial", "min"),
            ]
        else:
            self._phases = [(float(p * total) - 1, "initial", "max"), (total - 1, "max", "min")]

    def _eta_max(self, group):
        if isinstance(self.eta_max, (list, tuple)):
            return self.eta_max[group]
        return self.eta_max

    def map(self, value, step, base, group):
        mx = self._eta_max(group)
        init = mx / self.div_factor
        vals = {"initial": init, "max": mx, "min": init / self.final_div_factor}
        start_step = 0
        for i, (end_step, a, b) in enumerate(self._phases):
            if step <= end_step or i == len(self._phases) - 1:
                pct = (step - start_step) / (end_step - start_step)
                start, end = vals[a], vals[b]
                if self.anneal_strategy == "cos":
                    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
                return (end - start) * pct + start
            start_step = end_step
        return value  # pragma: no cover


class CosineRestartParamScheduler(_ParamScheduler):
    """Cosine annealing with restarts (MMEngine's ``CosineRestartLR``): each period restarts at
    ``base * restart_weights[i]`` and anneals to ``eta_min`` (or ``eta_min_ratio * base``)."""

    chainable = False
    _step_args = ("periods",)

    def __init__(
        self,
        optimizer=None,
        param_name="lr",
        periods=(),
        restart_weights=(1,),
        eta_min=None,
        eta_min_ratio=None,
        begin=0,
        end=None,
        last_step=-1,
        by_epoch=True,
        verbose=False,
        convert_to_iter_based=False,
    ):
        super().__init__(
            optimizer, param_name, begin, end, last_step, by_epoch, verbose, convert_to_iter_based
        )
        self.periods = list(periods)
        self.restart_weights = list(restart_weights)
        self.eta_min = eta_min
        self.eta_min_ratio = eta_min_ratio

    def _check(self, key):
        if (self.eta_min is None) == (self.eta_min_ratio is None):
            raise ConfigError(f"{key}: give exactly one of eta_min and eta_min_ratio")
        if len(self.periods) != len(self.restart_weights) or not self.periods:
            raise ConfigError(
                f"{key}: periods and restart_weights must be non-empty and of the same length"
            )

    def map(self, value, step, base, group):
        cum = 0
        for period, weight in zip(self.periods, self.restart_weights):  # noqa: B007
            if step < cum + period:
                break
            cum += period
        else:  # past the last period: the value stays at the last step of the last period
            period, weight = self.periods[-1], self.restart_weights[-1]
            cum -= period
            step = cum + period - 1
        eta = self.eta_min if self.eta_min_ratio is None else base * self.eta_min_ratio
        mx = base * weight
        return eta + (mx - eta) * (1 + math.cos(math.pi * (step - cum) / period)) / 2


def _variant(base: type, name: str, param_name: str) -> type:
    """``base`` with ``param_name`` fixed (``LinearLR`` = ``LinearParamScheduler`` on 'lr')."""
    sig = inspect.signature(base.__init__)
    new_sig = sig.replace(parameters=[p for p in sig.parameters.values() if p.name != "param_name"])

    def __init__(self, *args, **kwargs):
        bound = new_sig.bind(self, *args, **kwargs)
        args = {k: v for k, v in bound.arguments.items() if k != "self"}
        base.__init__(self, param_name=param_name, **args)

    __init__.__signature__ = new_sig
    what = "learning rate" if param_name == "lr" else "momentum (beta1 for Adam-like optimizers)"
    doc = f"MMEngine's ``{name}``: :class:`{base.__name__}` applied to the {what}."
    return type(name, (base,), {"__init__": __init__, "__doc__": doc, "__module__": __name__})


ConstantLR = _variant(ConstantParamScheduler, "ConstantLR", "lr")
LinearLR = _variant(LinearParamScheduler, "LinearLR", "lr")
StepLR = _variant(StepParamScheduler, "StepLR", "lr")
MultiStepLR = _variant(MultiStepParamScheduler, "MultiStepLR", "lr")
ExponentialLR = _variant(ExponentialParamScheduler, "ExponentialLR", "lr")
CosineAnnealingLR = _variant(CosineAnnealingParamScheduler, "CosineAnnealingLR", "lr")
PolyLR = _variant(PolyParamScheduler, "PolyLR", "lr")
OneCycleLR = _variant(OneCycleParamScheduler, "OneCycleLR", "lr")
CosineRestartLR = _variant(CosineRestartParamScheduler, "CosineRestartLR", "lr")

ConstantMomentum = _variant(ConstantParamScheduler, "ConstantMomentum", "momentum")
LinearMomentum = _variant(LinearParamScheduler, "LinearMomentum", "momentum")
StepMomentum = _variant(StepParamScheduler, "StepMomentum", "momentum")
MultiStepMomentum = _variant(MultiStepParamScheduler, "MultiStepMomentum", "momentum")
ExponentialMomentum = _variant(ExponentialParamScheduler, "ExponentialMomentum", "momentum")
CosineAnnealingMomentum = _variant(
    CosineAnnealingParamScheduler, "CosineAnnealingMomentum", "momentum"
)
PolyMomentum = _variant(PolyParamScheduler, "PolyMomentum", "momentum")
CosineRestartMomentum = _variant(CosineRestartParamScheduler, "CosineRestartMomentum", "momentum")

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
        schedulers: list[_ParamScheduler],
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
    if inspect.isclass(cls) and issubclass(cls, _ParamScheduler):
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
) -> ParamSchedulers:
    """Bind the ``param_scheduler`` config (a dict, a list of dicts, or None) to ``optimizer``.

    Raises ValueError naming ``param_scheduler[i].<key>`` for an unknown type or argument, an
    ``end`` past the end of training, ``begin >= end``, and the like.
    """
    if not isinstance(iters_per_epoch, int) or iters_per_epoch < 1:
        raise ConfigError(f"iters_per_epoch must be a positive integer, got {iters_per_epoch!r}")
    if not isinstance(max_epochs, int) or max_epochs < 1:
        raise ConfigError(f"max_epochs must be a positive integer, got {max_epochs!r}")
    if param_scheduler is None:
        cfgs = []
    elif isinstance(param_scheduler, Mapping) or isinstance(param_scheduler, _ParamScheduler):
        cfgs = [param_scheduler]
    elif isinstance(param_scheduler, Sequence) and not isinstance(param_scheduler, str):
        cfgs = list(param_scheduler)
    else:
        raise ConfigError(
            f"param_scheduler must be a dict or a list of dicts, got {param_scheduler!r}"
        )
    total_iters = max_epochs * iters_per_epoch
    specs = []
    for i, cfg in enumerate(cfgs):
        key = (
            f"param_scheduler[{i}]"
            if len(cfgs) > 1 or isinstance(param_scheduler, list)
            else "param_scheduler"
        )
        if isinstance(cfg, _ParamScheduler):
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
        specs.append(_resolve_spec(spec, key, optimizer, max_epochs, iters_per_epoch, total_iters))
    return ParamSchedulers(optimizer, specs, max_epochs=max_epochs, iters_per_epoch=iters_per_epoch)


def _resolve_spec(spec, key, optimizer, max_epochs, ipe, total_iters):
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
    unit, limit = ("epochs", max_epochs) if spec.by_epoch else ("iterations", total_iters)
    if spec.end is None or spec.end == INF:
        spec.end = limit
    where = (
        f"train_cfg.max_epochs={max_epochs}"
        if spec.by_epoch
        else f"{total_iters} iterations = {max_epochs} epochs x {ipe} iterations per epoch"
    )
    if spec.begin < 0:
        raise ConfigError(f"{key}.begin must be >= 0, got {spec.begin}")
    if spec.end > limit:
        raise ConfigError(
            f"{key}.end = {spec.end} is past the end of training ({where}): lower "
            f"{key}.end to at most {limit} {unit} or raise the number of epochs"
            + (
                ""
                if spec.by_epoch
                else "; an epoch-based schedule (by_epoch=True, "
                "convert_to_iter_based=True) scales with the dataset"
            )
        )
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
