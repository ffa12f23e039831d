"""MMEngine's parameter schedulers as closed-form maps: ``LinearLR``, ``CosineAnnealingLR``, ...

Each class is a config holder with MMEngine's signature and a ``map(value, step, base, group)``
that gives the scheduled value ``step`` steps after its ``begin``. They are not bound to an
optimizer: :func:`vidlab.engine.schedules.build_schedulers` validates them against the run
(``begin``/``end``, ``convert_to_iter_based``) and composes them; its module docstring explains
how the closed form relates to MMEngine's recursion.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable

from vidlab.config.errors import ConfigError

__all__ = [
    "BaseParamScheduler",
    "ConstantLR",
    "ConstantMomentum",
    "ConstantParamScheduler",
    "CosineAnnealingLR",
    "CosineAnnealingMomentum",
    "CosineAnnealingParamScheduler",
    "CosineRestartLR",
    "CosineRestartMomentum",
    "CosineRestartParamScheduler",
    "ExponentialLR",
    "ExponentialMomentum",
    "ExponentialParamScheduler",
    "LinearLR",
    "LinearMomentum",
    "LinearParamScheduler",
    "MultiStepLR",
    "MultiStepMomentum",
    "MultiStepParamScheduler",
    "OneCycleLR",
    "OneCycleParamScheduler",
    "PolyLR",
    "PolyMomentum",
    "PolyParamScheduler",
    "StepLR",
    "StepMomentum",
    "StepParamScheduler",
]


# --------------------------------------------------------------------------------------------
# Scheduler specs: config holders with MMEngine's signatures and a closed-form map.
# --------------------------------------------------------------------------------------------
class BaseParamScheduler:
    """Base of every scheduler spec. Not bound to an optimizer: ``optimizer`` is accepted (and
    ignored) so that MMEngine's signature validates; :func:`build_schedulers` supplies it.

    A scheduler class states its own arguments once, in ``_args`` (name -> default, in
    MMEngine's order); its ``__init__`` is made from them: MMEngine's signature ``(optimizer,
    param_name, <_args>, begin, end, last_step, by_epoch, verbose, convert_to_iter_based)`` (a
    common argument named in ``_args`` stands at its place there instead, as some of MMEngine's
    signatures have it), each argument stored as an attribute of its name (those in
    ``_as_list`` as lists).
    """

    chainable = True
    _step_args: tuple[str, ...] = ()  # arguments measured in steps (scaled by conversion)
    _args: dict[str, object] = {}  # the class's own arguments -> defaults (see above)
    _as_list: tuple[str, ...] = ()  # arguments stored as lists

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

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "_args" in cls.__dict__:  # not for _variant's classes: they fix param_name
            cls.__init__ = _init_from_args(cls)

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


def _init_from_args(cls: type) -> Callable:
    """``cls.__init__`` with MMEngine's signature, from ``cls._args`` (see BaseParamScheduler)."""
    common = inspect.signature(BaseParamScheduler.__init__).parameters
    first, last = list(common)[:3], list(common)[3:]  # (self, optimizer, param_name), the rest
    names = [*first, *cls._args, *(k for k in last[:-1] if k not in cls._args), last[-1]]
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    defaults = {k: p.default for k, p in common.items()} | cls._args
    sig = inspect.Signature(
        [common["self"]] + [inspect.Parameter(k, kind, default=defaults[k]) for k in names[1:]]
    )

    def __init__(self, *args, **kwargs):
        bound = sig.bind(self, *args, **kwargs)
        bound.apply_defaults()
        values = dict(bound.arguments)
        BaseParamScheduler.__init__(*(values.pop(k) for k in common))
        for k, v in values.items():
            setattr(self, k, list(v) if k in cls._as_list else v)

    __init__.__signature__ = sig
    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    return __init__


class ConstantParamScheduler(BaseParamScheduler):
    """Multiplies the value by ``factor`` until ``end`` (the last step restores it)."""

    _args = {"factor": 1.0 / 3}

    def _check(self, key):
        if not 0 <= self.factor <= 1:
            raise ConfigError(f"{key}.factor must be between 0 and 1, got {self.factor}")

    def _finalize(self):
        self.total_iters = self.end - self.begin - 1

    def map(self, value, step, base, group):
        if step == 0 or step < self.total_iters:
            return value * self.factor
        return value


class LinearParamScheduler(BaseParamScheduler):
    """Multiplies the value by a factor going linearly from ``start_factor`` (at ``begin``) to
    ``end_factor`` (at ``end - 1``)."""

    _args = {"start_factor": 1.0 / 3, "end_factor": 1.0}

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


class StepParamScheduler(BaseParamScheduler):
    """Multiplies the value by ``gamma`` every ``step_size`` steps."""

    _step_args = ("step_size",)
    _args = {"step_size": 1, "gamma": 0.1}

    def _check(self, key):
        if not self.step_size or self.step_size <= 0:
            raise ConfigError(f"{key}.step_size must be positive, got {self.step_size}")

    def map(self, value, step, base, group):
        return value * self.gamma ** (step // self.step_size)


class MultiStepParamScheduler(BaseParamScheduler):
    """Multiplies the value by ``gamma`` at each milestone (counted from ``begin``, as MMEngine)."""

    _step_args = ("milestones",)
    _args = {"milestones": (), "gamma": 0.1, "last_step": -1}  # MMEngine's order
    _as_list = ("milestones",)

    def _check(self, key):
        if any(not isinstance(m, (int, float)) for m in self.milestones):
            raise ConfigError(f"{key}.milestones must be a list of numbers, got {self.milestones}")

    def map(self, value, step, base, group):
        n = sum(1 for m in self.milestones if 0 <= m <= step)
        return value * self.gamma**n


class ExponentialParamScheduler(BaseParamScheduler):
    """Multiplies the value by ``gamma`` every step."""

    _args = {"gamma": 0.1}

    def map(self, value, step, base, group):
        return value * self.gamma**step


class CosineAnnealingParamScheduler(BaseParamScheduler):
    """Cosine from the incoming value to ``eta_min`` (or ``eta_min_ratio`` x the group's base
    value) over ``T_max`` steps (default ``end - begin``)."""

    _step_args = ("T_max",)
    _args = {  # MMEngine's order: eta_min_ratio after verbose
        "T_max": None,
        "eta_min": None,
        "begin": 0,
        "end": None,
        "last_step": -1,
        "by_epoch": True,
        "verbose": False,
        "eta_min_ratio": None,
    }

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


class PolyParamScheduler(BaseParamScheduler):
    """``eta_min + (v - eta_min) * (1 - s / T) ** power`` with ``T = end - begin - 1``."""

    _args = {"eta_min": 0, "power": 1.0}

    def _finalize(self):
        self.total_iters = self.end - self.begin - 1

    def map(self, value, step, base, group):
        if self.total_iters <= 0:
            return value
        frac = 1 - min(step, self.total_iters) / self.total_iters
        return self.eta_min + (value - self.eta_min) * frac**self.power


class OneCycleParamScheduler(BaseParamScheduler):
    """The 1cycle policy (MMEngine's ``OneCycleLR``): from ``eta_max / div_factor`` up to
    ``eta_max`` over ``pct_start`` of ``total_steps`` (default ``end - begin``), then down to
    ``eta_max / div_factor / final_div_factor``. Absolute values (not chained), and, as in
    MMEngine, the same for every param group unless ``eta_max`` is a list (one per group)."""

    chainable = False
    _step_args = ("total_steps",)
    _args = {
        "eta_max": 0,
        "total_steps": None,
        "pct_start": 0.3,
        "anneal_strategy": "cos",
        "div_factor": 25.0,
        "final_div_factor": 1e4,
        "three_phase": False,
    }

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


class CosineRestartParamScheduler(BaseParamScheduler):
    """Cosine annealing with restarts (MMEngine's ``CosineRestartLR``): each period restarts at
    ``base * restart_weights[i]`` and anneals to ``eta_min`` (or ``eta_min_ratio * base``)."""

    chainable = False
    _step_args = ("periods",)
    _args = {"periods": (), "restart_weights": (1,), "eta_min": None, "eta_min_ratio": None}
    _as_list = ("periods", "restart_weights")

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
