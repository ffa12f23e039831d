"""Exponential moving average of model weights (MMEngine's ``EMAHook`` + averaged models).

``build_ema(model, dict(type='EMAHook', momentum=0.0002, update_buffers=True))`` takes the
arguments of an ``EMAHook`` entry of ``custom_hooks`` and returns a :class:`ModelEMA`. The loop
calls ``ema.update(model, step)`` after each optimizer step, with ``step`` the 0-based index of
the iteration that just finished (MMEngine's ``runner.iter`` in ``after_train_iter``), and
evaluates/saves ``ema.module``.

Facts kept from MMEngine (``mmengine/model/averaged_model.py``, ``mmengine/hooks/ema_hook.py``):

* ``ExponentialMovingAverage``: ``averaged = averaged * (1 - momentum) + source * momentum``;
  ``momentum`` is the weight of the *new* value (default 0.0002, not a decay like 0.9998).
* ``MomentumAnnealingEMA``: momentum ``max(momentum, gamma / (gamma + steps))`` (gamma=100).
* ``StochasticWeightAverage``: ``averaged + (source - averaged) / (steps // interval + 1)``.
* ``ExpMomentumEMA`` (MMDetection/YOLOX): ``(1 - momentum) * exp(-(1 + steps) / gamma) +
  momentum`` (gamma=2000).
* ``steps`` counts calls of the update (after ``begin_iter``/``begin_epoch``); the average is
  updated only when ``steps % interval == 0``; the first update copies the source.
* Before ``begin_iter`` (``step + 1 < begin_iter``) or ``begin_epoch`` (``epoch + 1 <
  begin_epoch``) the averaged copy just follows the source model.
* ``state_dict()`` has MMEngine's ``ema_state_dict`` layout: ``steps`` and ``module.<key>``.

One deliberate difference: with ``update_buffers=False`` the buffers (BatchNorm running
statistics) of the averaged copy are copied from the source model at each update. MMEngine
leaves them at their initial values but, when it validates, swaps only the parameters, so the
evaluated model is EMA parameters + current buffers — which is what ``ema.module`` holds here,
ready to evaluate or save. Integer buffers (``num_batches_tracked``) are always copied.
"""

from __future__ import annotations

import copy
import difflib
import math

import torch
import torch.nn as nn

__all__ = ["ModelEMA", "build_ema", "EMA_TYPES"]

EMA_TYPES = (
    "ExponentialMovingAverage",
    "MomentumAnnealingEMA",
    "StochasticWeightAverage",
    "ExpMomentumEMA",
)


def _unwrap(model: nn.Module) -> nn.Module:
    while True:
        if isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
            model = model.module
        elif isinstance(getattr(model, "_orig_mod", None), nn.Module):
            model = model._orig_mod
        elif isinstance(model, ModelEMA):
            model = model.module
        else:
            return model


class ModelEMA(nn.Module):
    """An averaged copy of a model, updated with MMEngine's averaging rules.

    Args:
        model: the model to average (DDP / ``torch.compile`` wrappers are unwrapped).
        momentum: weight of the new value in ``avg = (1 - m) * avg + m * src``.
        interval: average every ``interval`` updates.
        warm_up: if set, momentum ``max(momentum, warm_up / (warm_up + steps))`` — the same as
            ``ema_type='MomentumAnnealingEMA', gamma=warm_up``.
        update_buffers: average floating-point buffers too (else copy them).
        ema_type: one of :data:`EMA_TYPES`.
        gamma: parameter of MomentumAnnealingEMA (default 100) / ExpMomentumEMA (default 2000).
        begin_iter / begin_epoch: first iteration / epoch (MMEngine's EMAHook semantics).
        iters_per_epoch: lets ``update`` derive the epoch from ``step`` for ``begin_epoch``.
        device: keep the averaged copy on this device (default: the model's).
    """

    def __init__(
        self,
        model: nn.Module,
        momentum: float = 0.0002,
        interval: int = 1,
        warm_up: int | None = None,
        update_buffers: bool = False,
        *,
        ema_type: str = "ExponentialMovingAverage",
        gamma: float | None = None,
        begin_iter: int = 0,
        begin_epoch: int = 0,
        iters_per_epoch: int | None = None,
        device: torch.device | str | None = None,
    ):
        super().__init__()
        if ema_type not in EMA_TYPES:
            m = difflib.get_close_matches(str(ema_type), EMA_TYPES, n=3)
            hint = f"; did you mean {', '.join(repr(x) for x in m)}?" if m else ""
            raise ValueError(
                f"unknown ema_type {ema_type!r}{hint} (choices: {', '.join(EMA_TYPES)})"
            )
        if ema_type != "StochasticWeightAverage" and not 0.0 < momentum < 1.0:
            raise ValueError(
                f"EMA momentum must be in (0, 1) — the weight of the new value, e.g. 0.0002 — got {momentum}"
            )
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f"EMA interval must be an integer >= 1, got {interval!r}")
        if begin_iter and begin_epoch:
            raise ValueError("EMA: begin_iter and begin_epoch cannot both be set")
        if begin_iter < 0 or begin_epoch < 0:
            raise ValueError("EMA: begin_iter and begin_epoch must be >= 0")
        if warm_up is not None:
            if ema_type not in ("ExponentialMovingAverage", "MomentumAnnealingEMA"):
                raise ValueError("EMA warm_up applies to ExponentialMovingAverage only")
            ema_type, gamma = "MomentumAnnealingEMA", warm_up
        if gamma is None:
            gamma = 2000 if ema_type == "ExpMomentumEMA" else 100
        if gamma <= 0:
            raise ValueError(f"EMA gamma must be > 0, got {gamma}")
        self.ema_type = ema_type
        self.momentum = float(momentum)
        self.interval = interval
        self.update_buffers = bool(update_buffers)
        self.gamma = gamma
        self.begin_iter = begin_iter
        self.begin_epoch = begin_epoch
        self.iters_per_epoch = iters_per_epoch

        src = _unwrap(model)
        self.module = copy.deepcopy(src)
        if device is not None:
            self.module.to(device)
        self.module.eval()
        self.module.requires_grad_(False)
        dev = next((t.device for t in self.module.state_dict().values()), None)
        self.register_buffer("steps", torch.tensor(0, dtype=torch.long, device=dev))
        self._n = 0  # python mirror of ``steps``: no device sync per update

    # keep the averaged copy in eval mode whatever the caller does
    def train(self, mode: bool = True):
        super().train(mode)
        self.module.eval()
        return self

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    # ---- the average ---------------------------------------------------------------------
    def current_momentum(self) -> float:
        """The momentum the next update will use (depends on ``steps`` for annealed types)."""
        steps = self._n
        if self.ema_type == "MomentumAnnealingEMA":
            return max(self.momentum, self.gamma / (self.gamma + steps))
        if self.ema_type == "ExpMomentumEMA":
            return (1 - self.momentum) * math.exp(-(1 + steps) / self.gamma) + self.momentum
        if self.ema_type == "StochasticWeightAverage":
            return 1.0 / (steps // self.interval + 1)
        return self.momentum

    def started(self, step: int, epoch: int | None = None) -> bool:
        """Whether averaging is on after iteration ``step`` (0-based) of epoch ``epoch``."""
        if self.begin_epoch > 0:
            if epoch is None:
                if not self.iters_per_epoch:
                    raise ValueError(
                        "EMA with begin_epoch needs the epoch: call update(model, step, epoch=...) "
                        "or give iters_per_epoch"
                    )
                epoch = step // self.iters_per_epoch
            return epoch + 1 >= self.begin_epoch
        return step + 1 >= self.begin_iter

    def _pairs(self, model: nn.Module):
        src = _unwrap(model)
        avg_p = list(self.module.parameters())
        src_p = list(src.parameters())
        avg_b = list(self.module.buffers())
        src_b = list(src.buffers())
        if len(avg_p) != len(src_p) or len(avg_b) != len(src_b):
            raise ValueError(
                "EMA: the model's parameters/buffers no longer match the averaged copy "
                f"({len(src_p)}/{len(src_b)} vs {len(avg_p)}/{len(avg_b)})"
            )
        return avg_p, src_p, avg_b, src_b

    @torch.no_grad()
    def copy_from(self, model: nn.Module) -> None:
        """Make the averaged copy equal to ``model`` (parameters and buffers)."""
        avg_p, src_p, avg_b, src_b = self._pairs(model)
        for a, s in zip(avg_p + avg_b, src_p + src_b):
            a.copy_(s.detach().to(a.device))

    @torch.no_grad()
    def update(self, model: nn.Module, step: int, epoch: int | None = None) -> bool:
        """Update after iteration ``step`` (0-based global index of the iteration that just
        finished). Returns True if the average was updated, False if it only followed the
        model (before ``begin_iter``/``begin_epoch``) or skipped (``interval``)."""
        if not self.started(step, epoch):
            self.copy_from(model)
            return False
        avg_p, src_p, avg_b, src_b = self._pairs(model)
        steps = self._n
        did = False
        if steps % self.interval == 0:
            avg = list(avg_p)
            src = [s.detach().to(a.device) for a, s in zip(avg_p, src_p)]
            copy_b = []
            for a, s in zip(avg_b, src_b):
                if self.update_buffers and a.is_floating_point():
                    avg.append(a)
                    src.append(s.detach().to(a.device))
                else:
                    copy_b.append((a, s))
            if steps == 0:
                for a, s in zip(avg, src):
                    a.copy_(s)
            else:
                m = self.current_momentum()
                if self.ema_type == "StochasticWeightAverage":
                    for a, s in zip(avg, src):
                        a.add_((s - a) * m)
                else:
                    torch._foreach_mul_(avg, 1.0 - m)
                    torch._foreach_add_(avg, src, alpha=m)
            for a, s in copy_b:
                a.copy_(s.detach().to(a.device))
            did = True
        else:
            for a, s in zip(avg_b, src_b):
                if not (self.update_buffers and a.is_floating_point()):
                    a.copy_(s.detach().to(a.device))
        self._n += 1
        self.steps.fill_(self._n)
        return did

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Load ``state_dict()`` output (MMEngine ``ema_state_dict`` layout: ``steps`` and
        ``module.*``)."""
        out = super().load_state_dict(state_dict, strict=strict, assign=assign)
        self._n = int(self.steps)
        self.module.eval()
        return out

    def extra_repr(self) -> str:
        return (
            f"ema_type={self.ema_type}, momentum={self.momentum}, interval={self.interval}, "
            f"update_buffers={self.update_buffers}, begin_iter={self.begin_iter}, "
            f"begin_epoch={self.begin_epoch}"
        )


_HOOK_KEYS = (
    "type",
    "ema_type",
    "momentum",
    "interval",
    "update_buffers",
    "begin_iter",
    "begin_epoch",
    "gamma",
    "warm_up",
    "strict_load",
    "priority",
    "device",
)


def build_ema(
    model: nn.Module, hook_cfg: dict | None = None, *, iters_per_epoch: int | None = None
) -> ModelEMA:
    """A :class:`ModelEMA` from the arguments of MMEngine's ``EMAHook`` (a ``custom_hooks``
    entry): ``ema_type``, ``momentum``, ``update_buffers``, ``interval``, ``begin_iter``,
    ``begin_epoch``, ``gamma``; ``type``, ``priority`` and ``strict_load`` are accepted and
    ignored here (the loop's business)."""
    cfg = dict(hook_cfg or {})
    for k in cfg:
        if k not in _HOOK_KEYS:
            m = difflib.get_close_matches(k, _HOOK_KEYS, n=3)
            hint = f"; did you mean {', '.join(repr(x) for x in m)}?" if m else ""
            raise ValueError(f"EMAHook: unexpected argument {k!r}{hint}")
    for k in ("type", "strict_load", "priority"):
        cfg.pop(k, None)
    ema_type = cfg.pop("ema_type", "ExponentialMovingAverage")
    return ModelEMA(
        model,
        momentum=cfg.pop("momentum", 0.0002),
        interval=cfg.pop("interval", 1),
        warm_up=cfg.pop("warm_up", None),
        update_buffers=cfg.pop("update_buffers", False),
        ema_type=ema_type,
        gamma=cfg.pop("gamma", None),
        begin_iter=cfg.pop("begin_iter", 0),
        begin_epoch=cfg.pop("begin_epoch", 0),
        iters_per_epoch=iters_per_epoch,
        device=cfg.pop("device", None),
    )
