"""Model EMA: MMEngine's averaging rules on a two-parameter model."""

from __future__ import annotations

import io
import math

import pytest
import torch
from torch import nn

from vidlab.engine.ema import ModelEMA, build_ema


class Two(nn.Module):
    """Two scalar parameters and a float + an integer buffer."""

    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(0.0))
        self.b = nn.Parameter(torch.tensor(0.0))
        self.register_buffer("stat", torch.tensor(0.0))
        self.register_buffer("count", torch.tensor(0, dtype=torch.long))

    def set(self, a, b, stat=None, count=None):
        with torch.no_grad():
            self.a.fill_(a)
            self.b.fill_(b)
            if stat is not None:
                self.stat.fill_(stat)
            if count is not None:
                self.count.fill_(count)


def _vals(ema):
    m = ema.module
    return m.a.item(), m.b.item(), m.stat.item(), m.count.item()


def test_ema_math_and_first_copy():
    model = Two()
    ema = ModelEMA(model, momentum=0.25)
    model.set(1.0, 2.0, stat=3.0, count=1)
    assert ema.update(model, step=0)
    assert _vals(ema) == (1.0, 2.0, 3.0, 1)  # first update copies
    model.set(5.0, -2.0, stat=7.0, count=2)
    ema.update(model, step=1)
    a, b, stat, count = _vals(ema)
    assert a == pytest.approx(0.75 * 1.0 + 0.25 * 5.0)
    assert b == pytest.approx(0.75 * 2.0 + 0.25 * -2.0)
    assert (stat, count) == (7.0, 2)  # update_buffers=False: buffers follow the model
    model.set(5.0, -2.0)
    ema.update(model, step=2)
    assert ema.module.a.item() == pytest.approx(0.75 * 2.0 + 0.25 * 5.0)
    assert int(ema.steps) == 3


def test_update_buffers_averages_float_buffers_only():
    model = Two()
    ema = ModelEMA(model, momentum=0.5, update_buffers=True)
    model.set(0.0, 0.0, stat=2.0, count=1)
    ema.update(model, 0)
    model.set(0.0, 0.0, stat=4.0, count=5)
    ema.update(model, 1)
    _, _, stat, count = _vals(ema)
    assert stat == pytest.approx(3.0)
    assert count == 5  # integer buffer (num_batches_tracked): copied


def test_interval():
    model = Two()
    ema = ModelEMA(model, momentum=0.5, interval=2)
    seen = []
    for step, v in enumerate([2.0, 4.0, 8.0, 16.0, 32.0]):
        model.set(v, v)
        seen.append(ema.update(model, step))
        if step == 0:
            assert ema.module.a.item() == 2.0
    assert seen == [True, False, True, False, True]
    # steps 0 (copy 2), 2 (0.5*2 + 0.5*8 = 5), 4 (0.5*5 + 0.5*32 = 18.5)
    assert ema.module.a.item() == pytest.approx(18.5)


def test_begin_iter_and_begin_epoch():
    model = Two()
    ema = build_ema(model, dict(type="EMAHook", momentum=0.5, begin_iter=3))
    for step, v in enumerate([1.0, 2.0]):  # steps 0, 1: step + 1 < 3 -> follow the model
        model.set(v, v)
        assert not ema.update(model, step)
        assert ema.module.a.item() == v and int(ema.steps) == 0
    model.set(4.0, 4.0)
    assert ema.update(model, 2)  # first real update copies
    model.set(8.0, 8.0)
    ema.update(model, 3)
    assert ema.module.a.item() == pytest.approx(6.0)

    ema = build_ema(model, dict(momentum=0.5, begin_epoch=2), iters_per_epoch=4)
    assert not ema.update(model, 3)  # epoch 0
    assert ema.update(model, 4)  # epoch 1: epoch + 1 >= begin_epoch
    ema = build_ema(model, dict(momentum=0.5, begin_epoch=2))
    assert ema.update(model, 0, epoch=1)
    with pytest.raises(ValueError, match="needs the epoch"):
        ema.update(model, 0)


def test_annealed_and_swa_types():
    model = Two()
    ema = ModelEMA(model, momentum=0.0002, ema_type="MomentumAnnealingEMA", gamma=4)
    model.set(0.0, 0.0)
    ema.update(model, 0)
    model.set(1.0, 1.0)
    assert ema.current_momentum() == pytest.approx(4 / 5)  # max(0.0002, gamma / (gamma + steps=1))
    ema.update(model, 1)
    assert ema.module.a.item() == pytest.approx(0.8)
    # warm_up is the same rule
    assert ModelEMA(model, warm_up=4).ema_type == "MomentumAnnealingEMA"

    swa = build_ema(model, dict(ema_type="StochasticWeightAverage"))
    for step, v in enumerate([1.0, 2.0, 6.0]):
        model.set(v, v)
        swa.update(model, step)
    assert swa.module.a.item() == pytest.approx(3.0)  # plain mean

    yolo = ModelEMA(model, momentum=0.0001, ema_type="ExpMomentumEMA", gamma=2000)
    yolo.update(model, 0)
    assert yolo.current_momentum() == pytest.approx((1 - 0.0001) * math.exp(-2 / 2000) + 0.0001)


def test_state_dict_round_trip():
    model = Two()
    ema = ModelEMA(model, momentum=0.5)
    for step, v in enumerate([1.0, 3.0]):
        model.set(v, -v)
        ema.update(model, step)
    sd = ema.state_dict()
    assert set(sd) == {
        "steps",
        "module.a",
        "module.b",
        "module.stat",
        "module.count",
    }  # MMEngine layout
    buf = io.BytesIO()
    torch.save(sd, buf)
    buf.seek(0)
    other = ModelEMA(Two(), momentum=0.5)
    other.load_state_dict(torch.load(buf, weights_only=True))
    assert _vals(other) == _vals(ema) and int(other.steps) == 2
    model.set(5.0, 5.0)
    ema.update(model, 2)
    other.update(model, 2)
    assert _vals(other) == _vals(ema)


def test_module_is_a_frozen_eval_copy():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2), nn.Dropout(0.5))
    ema = ModelEMA(nn.DataParallel(model))  # wrappers are unwrapped
    assert not ema.module.training
    assert all(not p.requires_grad for p in ema.module.parameters())
    ema.train()
    assert not ema.module.training
    assert ema.module[0].weight is not model[0].weight
    x = torch.randn(4, 2)
    ema.update(model, 0)
    model.eval()
    assert torch.equal(ema(x), model(x))


def test_errors():
    model = Two()
    with pytest.raises(ValueError, match="did you mean 'ExponentialMovingAverage'"):
        build_ema(model, dict(ema_type="ExponentialMovingAverge"))
    with pytest.raises(ValueError, match="unexpected argument 'momentun'.*'momentum'"):
        build_ema(model, dict(momentun=0.1))
    with pytest.raises(ValueError, match=r"momentum must be in \(0, 1\)"):
        build_ema(model, dict(momentum=0.9999 + 1))
    with pytest.raises(ValueError, match="cannot both be set"):
        build_ema(model, dict(begin_iter=1, begin_epoch=1))
