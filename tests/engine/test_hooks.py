import json

import pytest
from engine_helpers import make_cfg

from vidlab.compat.mmengine import ParamSchedulerHook
from vidlab.engine.hooks import CheckpointHook, EMAHook, LoggerHook
from vidlab.engine.state import TrainState


class FakeRunner:
    def __init__(self, work_dir, max_epochs=5):
        self.work_dir, self.max_epochs, self.is_main = work_dir, max_epochs, True
        self.state = TrainState()
        self.saved, self.messages = [], []
        self.cfg = {}

    def save_checkpoint(self, path, record=True):
        path.write_text("ckpt")
        self.saved.append(path.name)

    def log(self, msg, echo=True):
        self.messages.append(msg)


def _epoch(hook, runner, metrics=None):
    runner.state.epoch += 1
    if metrics is not None:
        hook.after_val_epoch(runner, metrics)
    hook.after_train_epoch(runner)


def test_best_checkpoint_keeps_one_file(tmp_path):
    runner = FakeRunner(tmp_path)
    hook = CheckpointHook(interval=2, save_best="auto")
    for top1 in (0.2, 0.5, 0.4):
        _epoch(hook, runner, {"acc/top1": top1, "acc/top5": 0.9})
    # issue 8: the best file of an epoch is written before its epoch_N.pth (one resumable step)
    assert runner.saved == ["best_acc_top1_epoch_1.pth", "best_acc_top1_epoch_2.pth", "epoch_2.pth"]
    assert sorted(p.name for p in tmp_path.glob("best_*")) == ["best_acc_top1_epoch_2.pth"]
    assert runner.state.best == {"acc/top1": 0.5}
    assert (tmp_path / "last_checkpoint").read_text().endswith("epoch_2.pth")


def test_less_rule_inferred_for_loss(tmp_path):
    runner = FakeRunner(tmp_path)
    hook = CheckpointHook(interval=-1, save_last=False, save_best="val/loss")
    for loss in (1.0, 2.0, 0.5):
        _epoch(hook, runner, {"val/loss": loss})
    assert [p.name for p in tmp_path.glob("best_*")] == ["best_val_loss_epoch_3.pth"]


def test_rule_errors(tmp_path):
    with pytest.raises(ValueError, match="rule='bigger' is not valid"):
        CheckpointHook(save_best="acc/top1", rule="bigger")
    hook = CheckpointHook(save_best="weird")
    runner = FakeRunner(tmp_path)
    with pytest.raises(ValueError, match="cannot infer whether a larger 'weird' is better"):
        _epoch(hook, runner, {"weird": 1.0})
    hook = CheckpointHook(save_best="acc/top9")
    with pytest.raises(KeyError, match="save_best='acc/top9' is not among"):
        _epoch(hook, FakeRunner(tmp_path), {"acc/top1": 1.0})


def test_last_epoch_saved_and_keep(tmp_path):
    runner = FakeRunner(tmp_path, max_epochs=5)
    hook = CheckpointHook(interval=2, max_keep_ckpts=1)
    for _ in range(5):
        _epoch(hook, runner)
    assert runner.saved == ["epoch_2.pth", "epoch_4.pth", "epoch_5.pth"]
    assert [p.name for p in tmp_path.glob("epoch_*")] == ["epoch_5.pth"]
    state = hook.state_dict()
    fresh = CheckpointHook(interval=2, max_keep_ckpts=1)
    fresh.load_state_dict(state)
    assert fresh.saved == ["epoch_5.pth"]


def test_logger_writes_jsonl(tmp_path):
    runner = FakeRunner(tmp_path)
    runner.iters_per_epoch = 4
    runner.eta_seconds = lambda: 12.0
    hook = LoggerHook(interval=2, ignore_last=False, progress=False)
    hook.before_train(runner)
    hook.before_train_epoch(runner)
    for i in range(1, 4):
        info = dict(
            epoch=1,
            iter=i,
            epoch_iter=i,
            loss=float(i),
            lr=0.1,
            data_time=0.0,
            time=0.5,
            num_clips=4,
        )
        hook.after_train_iter(runner, info)
    runner.state.epoch = 1
    hook.after_val_epoch(runner, {"acc/top1": 0.75})
    records = [json.loads(x) for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert records[0] == {
        "mode": "train",
        "epoch": 1,
        "iter": 2,
        "lr": 0.1,
        "loss": 1.5,
        "data_time": 0.0,
        "time": 0.5,
        "clips_per_s": 8.0,
    }
    assert records[1] == {"mode": "val", "epoch": 1, "acc/top1": 0.75}


def test_config_only_hooks_accept_mmengine_kwargs():
    ParamSchedulerHook(priority="VERY_HIGH")
    ema = EMAHook(momentum=0.001, update_buffers=True, priority=49)
    assert ema.cfg["momentum"] == 0.001 and ema.cfg["ema_type"] == "ExponentialMovingAverage"


def test_default_hooks_without_type(tmp_path):
    from vidlab.engine.build import build_hooks

    cfg = make_cfg(tmp_path)
    cfg["default_hooks"] = dict(checkpoint=dict(interval=3), logger=dict(interval=7), timer=None)
    hooks, ema = build_hooks(cfg)
    ckpt = next(h for h in hooks if isinstance(h, CheckpointHook))
    logger = next(h for h in hooks if isinstance(h, LoggerHook))
    assert ckpt.interval == 3 and logger.interval == 7 and ema is None


def test_logger_hook_warns_once_when_tensorboard_is_missing(tmp_path, monkeypatch):
    import sys
    import warnings

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # the import fails
    runner = FakeRunner(tmp_path)
    runner.cfg = dict(  # two TensorBoard writers asked for: still one warning
        visualizer=dict(vis_backends=[dict(type="TensorboardVisBackend")]),
        log_config=dict(hooks=[dict(type="TensorboardLoggerHook", log_dir="tb0x")]),
    )
    hook = LoggerHook()
    with pytest.warns(RuntimeWarning, match=r"pip install tensorboard") as record:
        hook.before_train(runner)
    assert len([w for w in record if "tensorboard" in str(w.message)]) == 1
    assert [m for m in runner.messages if "pip install tensorboard" in m] != []
    assert hook._writers == []

    runner.cfg = {}  # not asked for: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LoggerHook().before_train(runner)
