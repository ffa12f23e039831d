"""docs/faq.md's training entries that had no test of their own: `--cfg-options compile=True`
(PyTorch 2.x) and `load_from_strict=True`."""

from __future__ import annotations

import pytest
import torch
from engine_helpers import TinyRecognizer, make_cfg

from vidlab.checkpoint import CheckpointError, save_checkpoint
from vidlab.engine.train import train


def _weights(cfg):
    return {k: v.detach().clone() for k, v in train(cfg)["model"].state_dict().items()}


def test_compile_option_trains_through_torch_compile(tmp_path):
    """`compile=True` (here with dynamo's eager backend: no C++ compiler in a unit test) wraps the
    training model in torch.compile and trains to the same weights as without it."""
    common = dict(max_epochs=1, val_dataloader=None, val_cfg=None, val_evaluator=None)
    plain = make_cfg(tmp_path / "plain", **common)
    plain["model"] = dict(type=TinyRecognizer, dropout=0.0)
    compiled = make_cfg(tmp_path / "compiled", compile=dict(backend="eager"), **common)
    compiled["model"] = dict(type=TinyRecognizer, dropout=0.0)
    torch._dynamo.reset()
    expected, got = _weights(plain), _weights(compiled)
    assert "torch.compile: on" in (tmp_path / "compiled" / "train.log").read_text()
    assert "torch.compile" not in (tmp_path / "plain" / "train.log").read_text()
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=1e-5, atol=1e-6, msg=key)


def test_load_from_strict_true_asks_for_every_key(tmp_path):
    """The FAQ's three `load_from_strict` settings: a checkpoint whose head has another size
    loads without it by default, and is refused with `load_from_strict=True`."""
    other = TinyRecognizer(num_classes=7)
    path = tmp_path / "other_head.pth"
    save_checkpoint(path, {"state_dict": other.state_dict(), "meta": {}})

    cfg = make_cfg(tmp_path / "default", max_epochs=1, load_from=str(path), val_dataloader=None)
    cfg.update(val_cfg=None, val_evaluator=None)
    model = train(cfg)["model"]  # the head is skipped and reported, the backbone loaded
    log = (tmp_path / "default" / "train.log").read_text()
    assert "load_from:" in log and "cls_head.fc_cls.weight" in log
    assert model.cls_head.fc_cls.out_features == 4

    cfg = make_cfg(tmp_path / "strict", max_epochs=1, load_from=str(path), val_dataloader=None)
    cfg.update(val_cfg=None, val_evaluator=None, load_from_strict=True)
    with pytest.raises(CheckpointError, match=r"cls_head\.fc_cls\.weight"):
        train(cfg)


def test_an_epoch_shorter_than_the_log_interval_is_still_logged(tmp_path):
    """MMPose's FAQ "no log printed": 3 iterations per epoch with `interval=50` log each epoch's
    last iteration (MMEngine's rule); a longer epoch's last, shorter window is still ignored."""
    cfg = make_cfg(tmp_path / "short", max_epochs=2, val_dataloader=None)
    cfg.update(val_cfg=None, val_evaluator=None)
    cfg["default_hooks"]["logger"] = dict(type="LoggerHook", interval=50)
    train(cfg)
    log = (tmp_path / "short" / "train.log").read_text()
    assert "epoch 1 iter 3/3" in log and "epoch 2 iter 3/3" in log

    cfg = make_cfg(tmp_path / "long", max_epochs=1, val_dataloader=None)
    cfg.update(val_cfg=None, val_evaluator=None)
    cfg["default_hooks"]["logger"] = dict(type="LoggerHook", interval=2)
    train(cfg)
    log = (tmp_path / "long" / "train.log").read_text()
    assert "epoch 1 iter 2/3" in log and "iter 3/3" not in log


def test_auto_scale_lr_follows_the_linear_scaling_rule(tmp_path):
    """MMAction2's tutorial: lr proportional to the total batch size. `--auto-scale-lr` (or
    `auto_scale_lr.enable=True`) scales the config's lr by batch / `base_batch_size`."""
    import json

    def first_lr(name, flag, **scale):
        cfg = make_cfg(tmp_path / name, max_epochs=1, val_dataloader=None)
        cfg.update(val_cfg=None, val_evaluator=None, auto_scale_lr=dict(base_batch_size=2, **scale))
        train(cfg, auto_scale_lr=flag)
        lines = (tmp_path / name / "log.jsonl").read_text().splitlines()
        return [json.loads(line)["lr"] for line in lines if '"train"' in line][0]

    assert first_lr("off", False) == pytest.approx(0.05)  # batch 4, lr 0.05 as written
    assert first_lr("flag", True) == pytest.approx(0.1)  # 4 / 2 = 2x
    assert first_lr("cfg", False, enable=True) == pytest.approx(0.1)
    assert "auto_scale_lr: lr x 2 (batch 4 vs 2)" in (tmp_path / "flag" / "train.log").read_text()


@pytest.mark.parametrize("model", ["tsm", "tsn", "i3d", "x3d", "vit"])
def test_quickstart_configs_support_auto_scale_lr(model):
    """README's `vidlab train CONFIG --auto-scale-lr` on the quickstart configs (the complete
    example users copy): each names the batch its lr was tuned for, so the flag scales by 1."""
    from pathlib import Path

    import vidlab
    from vidlab.config import load_config

    folder = Path(vidlab.__file__).parent / "configs" / "quickstart"
    (path,) = folder.glob(f"{model}_*_synthetic_motion.py")
    cfg = load_config(path)
    assert cfg.auto_scale_lr.enable is False
    assert cfg.auto_scale_lr.base_batch_size == cfg.train_dataloader.batch_size
