"""Learning-rate / momentum schedules: hand-computed values, MMEngine's recursion, errors, state."""

from __future__ import annotations

import inspect
import io
import math

import pytest
import torch
from torch import nn

from vidlab.engine.param_schedulers import CosineAnnealingLR, LinearLR
from vidlab.engine.schedules import ParamSchedulers, build_schedulers


def _sgd(lrs=(0.1,), momentum=0.9):
    params = [{"params": [nn.Parameter(torch.zeros(1))], "lr": lr} for lr in lrs]
    return torch.optim.SGD(params, lr=lrs[0], momentum=momentum, weight_decay=1e-4)


def _lrs(sched: ParamSchedulers, iters):
    out = []
    for t in iters:
        sched.step_iter(t)
        out.append(sched.current_lrs()[0])
    return out


# --------------------------------------------------------------------------------------------
# A step-by-step replay of MMEngine's recursive formulas (param_scheduler.py, _get_value) and of
# its runner: schedulers step once when built, iteration schedulers after every iteration, epoch
# schedulers after every epoch. Written from MMEngine's formulas to check the closed form.
# --------------------------------------------------------------------------------------------
class _RefScheduler:
    def __init__(self, groups, kind, by_epoch, begin, end, **kw):
        self.groups, self.kind, self.by_epoch = groups, kind, by_epoch
        self.begin, self.end, self.kw = begin, end, kw
        for g in groups:
            g.setdefault("initial_lr", g["lr"])
        self.base = [g["initial_lr"] for g in groups]
        self.last_step = -1
        self.global_step = -1
        self.total_iters = end - begin - 1
        self.step()

    def _value(self, i, lr):
        s, kw = self.last_step, self.kw
        if self.kind == "linear":
            if s == 0:
                return lr * kw["start_factor"]
            d = kw["end_factor"] - kw["start_factor"]
            return lr * (1.0 + d / (self.total_iters * kw["start_factor"] + (s - 1) * d))
        if self.kind == "cosine":
            T, eta = kw["T_max"], kw.get("eta_min", 0.0)
            if s == 0:
                return lr
            if (s - 1 - T) % (2 * T) == 0:
                return lr + (self.base[i] - eta) * (1 - math.cos(math.pi / T)) / 2
            return (1 + math.cos(math.pi * s / T)) / (1 + math.cos(math.pi * (s - 1) / T)) * (
                lr - eta
            ) + eta
        if self.kind == "multistep":
            return lr * kw["gamma"] ** kw["milestones"].count(s)
        if self.kind == "poly":
            if s == 0:
                return lr
            eta = kw["eta_min"]
            return (lr - eta) * (1 - 1 / (self.total_iters - s + 1)) ** kw["power"] + eta
        raise AssertionError(self.kind)

    def step(self):
        self.global_step += 1
        if self.begin <= self.global_step < self.end:
            self.last_step += 1
            for i, g in enumerate(self.groups):
                g["lr"] = self._value(i, g["lr"])


def _replay(base_lrs, specs, max_epochs, ipe):
    """lrs (per iteration, per group) of MMEngine's runner for ``specs``: (kind, by_epoch,
    begin, end, kwargs) with begin/end already in the scheduler's unit."""
    groups = [{"lr": lr} for lr in base_lrs]
    scheds = [_RefScheduler(groups, k, be, b, e, **kw) for k, be, b, e, kw in specs]
    out = []
    for t in range(max_epochs * ipe):
        out.append([g["lr"] for g in groups])
        for s in scheds:
            if not s.by_epoch:
                s.step()
        if (t + 1) % ipe == 0:
            for s in scheds:
                if s.by_epoch:
                    s.step()
    return out


def _ours(base_lrs, cfg, max_epochs, ipe):
    sched = build_schedulers(_sgd(base_lrs), cfg, max_epochs=max_epochs, iters_per_epoch=ipe)
    out = []
    for t in range(max_epochs * ipe):
        sched.step_iter(t)
        out.append(sched.current_lrs())
    return out


def _assert_close(a, b, rel=1e-9):
    assert len(a) == len(b)
    for t, (x, y) in enumerate(zip(a, b)):
        assert x == pytest.approx(y, rel=rel, abs=1e-15), f"iteration {t}: {x} vs {y}"


# --------------------------------------------------------------------------------------------
# Hand-computed values
# --------------------------------------------------------------------------------------------
def test_warmup_then_cosine_hand_values():
    # the quickstart schedule: 1 epoch of iteration warm-up, then a per-epoch cosine
    cfg = [
        dict(
            type="LinearLR",
            start_factor=0.1,
            by_epoch=True,
            begin=0,
            end=1,
            convert_to_iter_based=True,
        ),
        dict(type="CosineAnnealingLR", T_max=11, eta_min=0, by_epoch=True, begin=1, end=12),
    ]
    sched = build_schedulers(_sgd([0.1]), cfg, max_epochs=12, iters_per_epoch=5)
    lrs = _lrs(sched, range(60))
    # warm-up: begin 0, end 5 iterations -> factor 0.1 + 0.9 * t / 4
    assert lrs[0] == pytest.approx(0.01)
    assert lrs[1] == pytest.approx(0.1 * (0.1 + 0.9 / 4))  # 0.0325
    assert lrs[2] == pytest.approx(0.055)
    assert lrs[4] == pytest.approx(0.1)
    # epoch 1: cosine step 0 -> base lr for the whole epoch
    assert lrs[5:10] == pytest.approx([0.1] * 5)
    # epoch 2 (iterations 10..14): cosine step 1
    assert lrs[10] == pytest.approx(0.05 * (1 + math.cos(math.pi / 11)))
    assert lrs[14] == lrs[10]
    # last epoch: step 10 of 11 (MMEngine never reaches eta_min with end = T_max + begin)
    assert lrs[59] == pytest.approx(0.05 * (1 + math.cos(10 * math.pi / 11)))


def test_warmup_and_multistep_by_epoch():
    cfg = [
        dict(type="LinearLR", start_factor=0.1, by_epoch=True, begin=0, end=3),
        dict(type="MultiStepLR", by_epoch=True, begin=0, end=8, milestones=[4, 6], gamma=0.1),
    ]
    sched = build_schedulers(_sgd([1.0]), cfg, max_epochs=8, iters_per_epoch=4)
    per_epoch = [_lrs(sched, [4 * e])[0] for e in range(8)]
    assert per_epoch == pytest.approx([0.1, 0.55, 1.0, 1.0, 0.1, 0.1, 0.01, 0.01])
    # constant inside an epoch
    assert _lrs(sched, range(4, 8)) == pytest.approx([0.55] * 4)


def test_warmup_and_multistep_converted_to_iterations():
    cfg = [
        dict(
            type="LinearLR",
            start_factor=0.1,
            by_epoch=True,
            begin=0,
            end=3,
            convert_to_iter_based=True,
        ),
        dict(
            type="MultiStepLR",
            by_epoch=True,
            begin=0,
            end=8,
            milestones=[4, 6],
            gamma=0.1,
            convert_to_iter_based=True,
        ),
    ]
    sched = build_schedulers(_sgd([1.0]), cfg, max_epochs=8, iters_per_epoch=4)
    lrs = _lrs(sched, range(32))
    # warm-up over 12 iterations: factor 0.1 + 0.9 * t / 11
    for t in range(12):
        assert lrs[t] == pytest.approx(0.1 + 0.9 * t / 11)
    assert lrs[12:16] == pytest.approx([1.0] * 4)
    assert lrs[16] == pytest.approx(0.1)  # milestone 4 epochs = iteration 16
    assert lrs[23] == pytest.approx(0.1)
    assert lrs[24] == pytest.approx(0.01)  # milestone 6 epochs = iteration 24


def test_poly_hand_values():
    cfg = dict(type="PolyLR", eta_min=0.001, power=2.0, by_epoch=False, begin=0)
    sched = build_schedulers(_sgd([0.1]), cfg, max_epochs=2, iters_per_epoch=6)
    lrs = _lrs(sched, range(12))
    T = 11  # end (12 iterations) - begin - 1
    for t in range(12):
        assert lrs[t] == pytest.approx(0.001 + (0.1 - 0.001) * (1 - t / T) ** 2)
    assert lrs[-1] == pytest.approx(0.001)


def test_constant_step_exponential():
    s = build_schedulers(
        _sgd([1.0]), dict(type="ConstantLR", factor=0.5, end=3), max_epochs=6, iters_per_epoch=1
    )
    assert _lrs(s, range(6)) == pytest.approx([0.5, 0.5, 1.0, 1.0, 1.0, 1.0])
    s = build_schedulers(
        _sgd([1.0]), dict(type="StepLR", step_size=2, gamma=0.5), max_epochs=6, iters_per_epoch=1
    )
    assert _lrs(s, range(6)) == pytest.approx([1, 1, 0.5, 0.5, 0.25, 0.25])
    s = build_schedulers(
        _sgd([1.0]), dict(type="ExponentialLR", gamma=0.9, begin=2), max_epochs=5, iters_per_epoch=1
    )
    assert _lrs(s, range(5)) == pytest.approx([1, 1, 1, 0.9, 0.81])


def test_cosine_restart():
    cfg = dict(
        type="CosineRestartLR",
        periods=[4, 4],
        restart_weights=[1.0, 0.5],
        eta_min=0.0,
        by_epoch=False,
    )
    lrs = _lrs(build_schedulers(_sgd([1.0]), cfg, max_epochs=1, iters_per_epoch=10), range(10))
    cos = [(1 + math.cos(math.pi * k / 4)) / 2 for k in range(4)]
    assert lrs[:8] == pytest.approx(cos + [0.5 * c for c in cos])
    assert lrs[8:] == pytest.approx([0.5 * cos[3]] * 2)  # past the periods: the last value stays


def test_one_cycle_matches_torch():
    params = [nn.Parameter(torch.zeros(1))]
    ref_opt = torch.optim.SGD(params, lr=0.1)
    ref = torch.optim.lr_scheduler.OneCycleLR(
        ref_opt, max_lr=0.1, total_steps=40, cycle_momentum=False
    )
    ref_lrs = []
    for _ in range(40):
        ref_lrs.append(ref_opt.param_groups[0]["lr"])
        ref_opt.step()
        ref.step()
    cfg = dict(type="OneCycleLR", eta_max=0.1, total_steps=40, by_epoch=False)
    ours = _lrs(build_schedulers(_sgd([0.1]), cfg, max_epochs=4, iters_per_epoch=10), range(40))
    assert ours == pytest.approx(ref_lrs, rel=1e-9)
    assert ours[0] == pytest.approx(0.1 / 25)
    assert max(ours) == pytest.approx(0.1, rel=1e-3)
    # three phases, linear annealing, by hand at the phase ends
    cfg = dict(
        type="OneCycleLR",
        eta_max=1.0,
        total_steps=20,
        pct_start=0.25,
        three_phase=True,
        anneal_strategy="linear",
        by_epoch=False,
    )
    lrs = _lrs(build_schedulers(_sgd([1.0]), cfg, max_epochs=2, iters_per_epoch=10), range(20))
    assert lrs[0] == pytest.approx(0.04)
    assert lrs[4] == pytest.approx(1.0)  # end of phase 1: 0.25 * 20 - 1
    assert lrs[8] == pytest.approx(0.04)  # end of phase 2: 2 * 0.25 * 20 - 2
    assert lrs[19] == pytest.approx(0.04 / 1e4)


def test_one_cycle_total_steps_too_short():
    with pytest.raises(ValueError, match=r"param_scheduler\.total_steps = 10"):
        build_schedulers(
            _sgd(),
            dict(type="OneCycleLR", eta_max=0.1, total_steps=10, by_epoch=False),
            max_epochs=2,
            iters_per_epoch=10,
        )


def test_momentum_schedules_sgd_and_adam():
    opt = _sgd([0.1], momentum=0.95)
    cfg = dict(
        type="CosineAnnealingMomentum", T_max=10, eta_min=0.85, by_epoch=False, begin=0, end=10
    )
    s = build_schedulers(opt, cfg, max_epochs=1, iters_per_epoch=10)
    for t in range(10):
        s.step_iter(t)
        assert opt.param_groups[0]["momentum"] == pytest.approx(
            0.85 + 0.1 * (1 + math.cos(math.pi * t / 10)) / 2
        )
        assert opt.param_groups[0]["lr"] == 0.1  # untouched
    adam = torch.optim.AdamW([nn.Parameter(torch.zeros(1))], lr=1e-3, betas=(0.9, 0.999))
    cfg = [
        dict(type="LinearMomentum", start_factor=0.5, end=5, by_epoch=False),
        dict(type="LinearLR", start_factor=0.5, end=5, by_epoch=False),
    ]
    s = build_schedulers(adam, cfg, max_epochs=1, iters_per_epoch=10)
    s.step_iter(0)
    assert adam.param_groups[0]["betas"] == pytest.approx((0.45, 0.999))
    assert adam.param_groups[0]["lr"] == pytest.approx(5e-4)
    s.step_iter(2)
    assert adam.param_groups[0]["betas"][0] == pytest.approx(0.9 * 0.75)
    s.step_iter(9)
    assert adam.param_groups[0]["betas"] == pytest.approx((0.9, 0.999))
    # the generic form with an explicit param_name
    opt = _sgd([0.1])
    s = build_schedulers(
        opt,
        dict(
            type="LinearParamScheduler",
            param_name="weight_decay",
            start_factor=0.5,
            by_epoch=False,
            end=3,
        ),
        max_epochs=1,
        iters_per_epoch=4,
    )
    s.step_iter(0)
    assert opt.param_groups[0]["weight_decay"] == pytest.approx(0.5e-4)


def test_groups_keep_their_ratios_and_eta_min_ratio():
    cfg = dict(
        type="CosineAnnealingLR", eta_min_ratio=0.1, by_epoch=False
    )  # T_max = end - begin = 10
    s = build_schedulers(_sgd([0.1, 0.01]), cfg, max_epochs=1, iters_per_epoch=10)
    s.step_iter(5)
    a, b = s.current_lrs()
    assert a == pytest.approx(0.01 + 0.09 * 0.5)
    assert b == pytest.approx(0.001 + 0.009 * 0.5)


# --------------------------------------------------------------------------------------------
# Closed form vs MMEngine's recursion
# --------------------------------------------------------------------------------------------
def test_closed_form_matches_mmengine_recursion():
    ipe, E = 7, 10
    # warm-up by iteration, then cosine by epoch with eta_min (disjoint)
    _assert_close(
        _ours(
            [0.1, 0.02],
            [
                dict(type="LinearLR", start_factor=0.01, by_epoch=False, begin=0, end=20),
                dict(type="CosineAnnealingLR", T_max=8, eta_min=1e-4, begin=2, end=10),
            ],
            E,
            ipe,
        ),
        _replay(
            [0.1, 0.02],
            [
                ("linear", False, 0, 20, dict(start_factor=0.01, end_factor=1.0)),
                ("cosine", True, 2, 10, dict(T_max=8, eta_min=1e-4)),
            ],
            E,
            ipe,
        ),
    )
    # warm-up (iterations) overlapping a cosine by epoch with eta_min=0 (Swin-style configs)
    _assert_close(
        _ours(
            [0.1],
            [
                dict(
                    type="LinearLR",
                    start_factor=0.1,
                    by_epoch=True,
                    begin=0,
                    end=2.5,
                    convert_to_iter_based=True,
                ),
                dict(type="CosineAnnealingLR", T_max=10, eta_min=0, by_epoch=True, begin=0, end=10),
            ],
            E,
            ipe,
        ),
        _replay(
            [0.1],
            [
                ("linear", False, 0, int(2.5 * ipe), dict(start_factor=0.1, end_factor=1.0)),
                ("cosine", True, 0, 10, dict(T_max=10, eta_min=0.0)),
            ],
            E,
            ipe,
        ),
    )
    # warm-up overlapping multi-step, both by epoch
    _assert_close(
        _ours(
            [0.1],
            [
                dict(type="LinearLR", start_factor=0.1, by_epoch=True, begin=0, end=4),
                dict(type="MultiStepLR", milestones=[3, 7], gamma=0.1, begin=0, end=10),
            ],
            E,
            ipe,
        ),
        _replay(
            [0.1],
            [
                ("linear", True, 0, 4, dict(start_factor=0.1, end_factor=1.0)),
                ("multistep", True, 0, 10, dict(milestones=[3, 7], gamma=0.1)),
            ],
            E,
            ipe,
        ),
    )
    # cosine converted to iterations with eta_min, after a converted warm-up
    _assert_close(
        _ours(
            [0.1],
            [
                dict(
                    type="LinearLR",
                    start_factor=0.1,
                    by_epoch=True,
                    begin=0,
                    end=1,
                    convert_to_iter_based=True,
                ),
                dict(
                    type="CosineAnnealingLR",
                    T_max=9,
                    eta_min=1e-3,
                    by_epoch=True,
                    begin=1,
                    end=10,
                    convert_to_iter_based=True,
                ),
            ],
            E,
            ipe,
        ),
        _replay(
            [0.1],
            [
                ("linear", False, 0, ipe, dict(start_factor=0.1, end_factor=1.0)),
                ("cosine", False, ipe, 10 * ipe, dict(T_max=9 * ipe, eta_min=1e-3)),
            ],
            E,
            ipe,
        ),
    )
    # poly by iteration alone
    _assert_close(
        _ours(
            [0.1], [dict(type="PolyLR", eta_min=1e-4, power=0.9, by_epoch=False, begin=3)], E, ipe
        ),
        _replay([0.1], [("poly", False, 3, E * ipe, dict(eta_min=1e-4, power=0.9))], E, ipe),
    )


def test_overlap_with_eta_min_follows_closed_form():
    """Documented difference: warm-up overlapping a cosine with eta_min > 0. MMEngine's value
    depends on the order ratios were applied; vidlab's equals the cosine curve once the warm-up
    is over."""
    ipe, E = 5, 10
    cfg = [
        dict(type="LinearLR", start_factor=0.1, by_epoch=False, begin=0, end=12),
        dict(type="CosineAnnealingLR", T_max=10, eta_min=0.01, by_epoch=True, begin=0, end=10),
    ]
    ours = _ours([0.1], cfg, E, ipe)
    for t in range(12, E * ipe):
        e = t // ipe
        assert ours[t][0] == pytest.approx(0.01 + 0.09 * (1 + math.cos(math.pi * e / 10)) / 2)
    ref = _replay(
        [0.1],
        [
            ("linear", False, 0, 12, dict(start_factor=0.1, end_factor=1.0)),
            ("cosine", True, 0, 10, dict(T_max=10, eta_min=0.01)),
        ],
        E,
        ipe,
    )
    assert ref[30][0] != pytest.approx(ours[30][0], rel=1e-6)  # MMEngine is off the curve
    assert ref[30][0] == pytest.approx(ours[30][0], rel=0.05)  # but close


def test_values_are_a_function_of_the_iteration():
    cfg = [
        dict(type="LinearLR", start_factor=0.1, by_epoch=False, begin=0, end=7),
        dict(type="CosineAnnealingLR", eta_min=1e-3, by_epoch=True, begin=1),
    ]
    a = build_schedulers(_sgd([0.1]), cfg, max_epochs=5, iters_per_epoch=4)
    seq = _lrs(a, range(20))
    b = build_schedulers(_sgd([0.1]), cfg, max_epochs=5, iters_per_epoch=4)
    for t in (13, 2, 19, 0, 7):
        b.step_iter(t)
        assert b.current_lrs()[0] == seq[t]  # bitwise


def test_state_dict_round_trip():
    cfg = [
        dict(type="LinearLR", start_factor=0.1, by_epoch=False, begin=0, end=7),
        dict(type="CosineAnnealingLR", eta_min=1e-3, by_epoch=True, begin=1),
    ]
    opt = _sgd([0.1, 0.05])
    s = build_schedulers(opt, cfg, max_epochs=5, iters_per_epoch=4)
    s.step_iter(9)
    buf = io.BytesIO()
    torch.save({"sched": s.state_dict(), "optim": opt.state_dict()}, buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    # a resumed run builds its optimizer afresh (here with another lr) and loads the state
    opt2 = _sgd([0.3, 0.3])
    s2 = build_schedulers(opt2, cfg, max_epochs=5, iters_per_epoch=4)
    s2.load_state_dict(state["sched"])
    assert s2.base_values == {"lr": [0.1, 0.05]}
    assert s2.last_iter == 9
    for t in range(10, 20):
        s.step_iter(t)
        s2.step_iter(t)
        assert s2.current_lrs() == s.current_lrs()
    with pytest.raises(ValueError, match="param group layout changed"):
        build_schedulers(_sgd([0.1]), cfg, max_epochs=5, iters_per_epoch=4).load_state_dict(
            state["sched"]
        )


def test_end_defaults_to_end_of_training():
    # by_epoch: end = max_epochs -> LinearLR total = max_epochs - 1 epochs
    s = build_schedulers(
        _sgd([1.0]), dict(type="LinearLR", start_factor=0.5), max_epochs=3, iters_per_epoch=2
    )
    assert _lrs(s, [0, 2, 4]) == pytest.approx([0.5, 0.75, 1.0])
    # by iteration: end = total iterations
    s = build_schedulers(
        _sgd([1.0]),
        dict(type="LinearLR", start_factor=0.5, by_epoch=False),
        max_epochs=3,
        iters_per_epoch=2,
    )
    assert _lrs(s, [0, 5]) == pytest.approx([0.5, 1.0])
    # no schedulers: the lr stays
    s = build_schedulers(_sgd([1.0]), None, max_epochs=3, iters_per_epoch=2)
    assert _lrs(s, [0, 5]) == [1.0, 1.0]


# --------------------------------------------------------------------------------------------
# Errors and signatures
# --------------------------------------------------------------------------------------------
def test_errors():
    opt = _sgd()
    kw = dict(max_epochs=10, iters_per_epoch=5)
    with pytest.raises(
        ValueError,
        match=r"param_scheduler\[1\]\.type: unknown type 'CosineAnealingLR'.*'CosineAnnealingLR'",
    ):
        build_schedulers(opt, [dict(type="LinearLR"), dict(type="CosineAnealingLR")], **kw)
    # Issue 8: an end past the end of training is cut there with one note (it was an error).
    steps = [dict(type="LinearLR", end=2), dict(type="MultiStepLR", milestones=[5], end=12)]
    bound = build_schedulers(opt, steps, notes=(notes := []), **kw)
    assert len(notes) == 1 and "param_scheduler[1].end 12 -> 10" in notes[0]
    assert bound.schedulers[1].end == 10
    build_schedulers(opt, dict(type="LinearLR", by_epoch=False, end=500), notes=(notes := []), **kw)
    assert "param_scheduler.end 500 -> 50" in notes[0]
    steps = [dict(type="LinearLR", end=2), dict(type="LinearLR", begin=10, end=12)]
    bound = build_schedulers(opt, steps, notes=(notes := []), **kw)
    assert len(bound.schedulers) == 1 and "param_scheduler[1] (begin 10)" in notes[0]
    with pytest.raises(
        ValueError, match=r"param_scheduler\[0\]: begin \(5\) must be smaller than end \(5\)"
    ):
        build_schedulers(opt, [dict(type="LinearLR", begin=5, end=5)], **kw)
    with pytest.raises(
        ValueError, match=r"param_scheduler\[0\]\.start_facter: unexpected argument.*'start_factor'"
    ):
        build_schedulers(opt, [dict(type="LinearLR", start_facter=0.1)], **kw)
    with pytest.raises(ValueError, match="convert_to_iter_based=True needs by_epoch=True"):
        build_schedulers(
            opt, [dict(type="LinearLR", by_epoch=False, convert_to_iter_based=True)], **kw
        )
    with pytest.raises(ValueError, match="neither momentum nor betas"):
        adagrad = torch.optim.Adagrad([nn.Parameter(torch.zeros(1))])
        build_schedulers(adagrad, [dict(type="LinearMomentum")], **kw)
    with pytest.raises(ValueError, match="not supported"):
        build_schedulers(opt, [dict(type="ReduceOnPlateauLR")], **kw)
    with pytest.raises(ValueError, match="start_factor must be between 0 and 1"):
        build_schedulers(opt, [dict(type="LinearLR", start_factor=2)], **kw)


def test_single_step_linear_warns():
    with pytest.warns(UserWarning, match="start_factor=0.1 stays for the rest of training"):
        s = build_schedulers(
            _sgd([1.0]),
            dict(type="LinearLR", start_factor=0.1, end=1),
            max_epochs=3,
            iters_per_epoch=2,
        )
    assert _lrs(s, [0, 5]) == pytest.approx([0.1, 0.1])  # MMEngine's behaviour


def test_signatures_validate_mmengine_configs():
    sig = inspect.signature(LinearLR)
    assert {
        "optimizer",
        "start_factor",
        "end_factor",
        "begin",
        "end",
        "by_epoch",
        "convert_to_iter_based",
    } <= set(sig.parameters)
    assert "param_name" not in sig.parameters
    sig = inspect.signature(CosineAnnealingLR)
    assert {"T_max", "eta_min", "eta_min_ratio"} <= set(sig.parameters)
    spec = CosineAnnealingLR(None, T_max=5, eta_min=0.0)  # positional optimizer, as MMEngine
    assert spec.param_name == "lr" and spec.T_max == 5
