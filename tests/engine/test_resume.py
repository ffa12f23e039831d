"""A run stopped after any epoch and resumed ends with bitwise the same weights (CPU)."""

import shutil

import pytest
import torch
from engine_helpers import TinyRecognizer, make_cfg

from vidlab.checkpoint import load_checkpoint
from vidlab.engine.train import train


def _assert_same_weights(a: dict, b: dict):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def _resume_from(tmp_path, full_dir, epoch, cfg_fn):
    """Start a new work dir holding only epoch_<epoch>.pth of the full run, and resume."""
    work = tmp_path / f"resumed_from_{epoch}"
    work.mkdir()
    shutil.copy(full_dir / f"epoch_{epoch}.pth", work / f"epoch_{epoch}.pth")
    return train(cfg_fn(work), resume=True), work


def test_resume_is_bitwise_equal(tmp_path):
    cfg_fn = lambda d: make_cfg(d, max_epochs=3)  # noqa: E731
    full = train(cfg_fn(tmp_path / "full"))
    expected = full["model"].state_dict()
    for epoch in (1, 2):
        resumed, _ = _resume_from(tmp_path, tmp_path / "full", epoch, cfg_fn)
        assert resumed["iter"] == full["iter"] == 9
        _assert_same_weights(resumed["model"].state_dict(), expected)
        assert resumed["metrics"] == full["metrics"]


def test_resume_with_workers_schedules_ema_accumulation(tmp_path):
    def cfg_fn(d):
        cfg = make_cfg(d, max_epochs=3)
        cfg["train_dataloader"]["num_workers"] = 2
        cfg["optim_wrapper"] = dict(
            optimizer=dict(type="SGD", lr=0.05, momentum=0.9, weight_decay=1e-4),
            clip_grad=dict(max_norm=1.0),
            accumulative_counts=2,
        )
        cfg["param_scheduler"] = [
            dict(type="LinearLR", start_factor=0.1, by_epoch=False, begin=0, end=4),
            dict(type="CosineAnnealingLR", T_max=3, by_epoch=True, convert_to_iter_based=True),
        ]
        cfg["custom_hooks"] = [dict(type="EMAHook", momentum=0.1, update_buffers=True)]
        return cfg

    full = train(cfg_fn(tmp_path / "full"))
    resumed, work = _resume_from(tmp_path, tmp_path / "full", 1, cfg_fn)
    _assert_same_weights(resumed["model"].state_dict(), full["model"].state_dict())
    # the saved weights are the moving average, equal in both runs
    a = load_checkpoint(tmp_path / "full" / "epoch_3.pth")
    b = load_checkpoint(work / "epoch_3.pth")
    _assert_same_weights(a["state_dict"], b["state_dict"])
    assert not torch.equal(
        a["state_dict"]["cls_head.fc_cls.weight"], a["model_state_dict"]["cls_head.fc_cls.weight"]
    )


def test_resume_with_other_param_groups_says_what_differs(tmp_path):
    from vidlab.checkpoint import CheckpointError

    train(make_cfg(tmp_path / "w", max_epochs=1))
    cfg = make_cfg(tmp_path / "w", max_epochs=2)
    cfg["optim_wrapper"] = dict(
        optimizer=dict(type="SGD", lr=0.05, momentum=0.9, weight_decay=1e-4),
        paramwise_cfg=dict(norm_decay_mult=0.0),
    )
    with pytest.raises(CheckpointError, match="parameter groups differ") as err:
        train(cfg, resume=True)
    assert "epoch_1.pth" in str(err.value)


def test_resume_from_weights_only_file(tmp_path):
    from vidlab.checkpoint import CheckpointError, save_checkpoint

    path = tmp_path / "weights.pth"
    save_checkpoint(path, {"state_dict": TinyRecognizer().state_dict()})
    with pytest.raises(CheckpointError, match="use load_from instead of resume"):
        train(make_cfg(tmp_path / "w", max_epochs=1), resume=str(path))
