import sys
import types

import numpy as np
import pytest
import torch
from engine_helpers import BNHeadRecognizer, TinyRecognizer, make_cfg

from vidlab.checkpoint import (
    CheckpointError,
    find_last_checkpoint,
    load_checkpoint,
    load_weights,
    save_checkpoint,
)
from vidlab.engine.train import train


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "epoch_1.pth"
    save_checkpoint(path, {"state_dict": {"w": torch.ones(3)}})

    real_save = torch.save

    def crash_halfway(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 half a checkpoint")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(torch, "save", crash_halfway)
    with pytest.raises(OSError, match="simulated"):
        save_checkpoint(path, {"state_dict": {"w": torch.zeros(3)}})
    monkeypatch.setattr(torch, "save", real_save)
    assert torch.equal(load_checkpoint(path)["state_dict"]["w"], torch.ones(3))
    assert not (tmp_path / "epoch_1.pth.tmp").exists()


def test_truncated_file_is_named(tmp_path):
    path = tmp_path / "good.pth"
    save_checkpoint(path, {"state_dict": TinyRecognizer().state_dict()})
    data = path.read_bytes()
    bad = tmp_path / "bad.pth"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"bad\.pth: truncated or not a checkpoint"):
        load_checkpoint(bad)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pth")


class Custom:  # an arbitrary class: reading it back needs full unpickling
    pass


def test_unsafe_pickle_needs_consent(tmp_path):
    path = tmp_path / "odd.pth"
    torch.save({"state_dict": {}, "extra": Custom()}, path)
    with pytest.raises(CheckpointError, match=r"allow_unsafe=True"):
        load_checkpoint(path)
    assert isinstance(load_checkpoint(path, allow_unsafe=True)["extra"], Custom)


def test_reads_mmaction2_checkpoint(tmp_path, monkeypatch):
    """MMEngine pickles its MessageHub/HistoryBuffer objects and NumPy arrays; DDP adds module."""
    fake = types.ModuleType("mmengine.logging.history_buffer")

    class HistoryBuffer:
        def __init__(self):
            self._log_history = np.array([1.0, 2.0])

    HistoryBuffer.__module__ = fake.__name__
    HistoryBuffer.__qualname__ = "HistoryBuffer"
    fake.HistoryBuffer = HistoryBuffer
    for name in ("mmengine", "mmengine.logging"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, fake.__name__, fake)
    model = TinyRecognizer()
    ckpt = {
        "meta": {"epoch": 5, "mmengine_version": "0.10.3"},
        "state_dict": {f"module.{k}": v for k, v in model.state_dict().items()},
        "message_hub": {"log_scalars": {"train/loss": HistoryBuffer()}},
    }
    path = tmp_path / "mmaction2.pth"
    torch.save(ckpt, path)
    for name in ("mmengine", "mmengine.logging", fake.__name__):  # not installed when reading
        monkeypatch.delitem(sys.modules, name)

    loaded = load_checkpoint(path)
    assert loaded["meta"]["epoch"] == 5
    other = TinyRecognizer()
    report = load_weights(other, path, strict=True)
    assert report.ok and len(report.loaded) == len(model.state_dict())
    assert torch.equal(other.cls_head.fc_cls.weight, model.cls_head.fc_cls.weight)


def test_grouped_mismatch_report(tmp_path):
    path = tmp_path / "k4.pth"
    save_checkpoint(path, {"state_dict": TinyRecognizer(num_classes=4).state_dict()})
    target = BNHeadRecognizer(num_classes=5)
    with pytest.raises(CheckpointError) as err:
        load_weights(target, path, strict=True)
    text = str(err.value)
    assert "k4.pth" in text
    assert (
        "shape mismatch, skipped: cls_head.fc_cls.weight (4, 8) in file vs (5, 8) in model" in text
    )
    assert (
        "missing in checkpoint: neck.{bias, num_batches_tracked, running_mean, running_var, weight}"
        in text
    )
    before = target.backbone[0].weight.clone()
    # nothing is loaded when strict loading fails
    assert torch.equal(target.backbone[0].weight, before)

    report = load_weights(target, path, strict=False)
    assert not report.ok and len(report.shape_mismatch) == 2
    assert "unexpected" not in str(report)


def test_load_from_with_another_head(tmp_path):
    src = TinyRecognizer(num_classes=4)
    ckpt = tmp_path / "pretrained.pth"
    save_checkpoint(ckpt, {"state_dict": src.state_dict(), "meta": {}})
    cfg = make_cfg(tmp_path / "work", max_epochs=1, load_from=str(ckpt))
    cfg["model"] = dict(type=TinyRecognizer, num_classes=6)
    cfg["optim_wrapper"] = dict(optimizer=dict(type="SGD", lr=0.0))  # weights stay as loaded
    cfg["val_dataloader"] = None
    result = train(cfg)
    model = result["model"]
    assert torch.equal(model.backbone[0].weight, src.backbone[0].weight)
    assert model.cls_head.fc_cls.weight.shape == (6, 8)
    log = (tmp_path / "work" / "train.log").read_text()
    assert (
        "shape mismatch, skipped: cls_head.fc_cls.weight (4, 8) in file vs (6, 8) in model" in log
    )


def test_resume_in_empty_dir_is_clear(tmp_path):
    cfg = make_cfg(tmp_path / "empty", max_epochs=1)
    with pytest.raises(CheckpointError, match=r"no checkpoint found in .*empty.*without --resume"):
        train(cfg, resume=True)


def test_find_last_checkpoint(tmp_path):
    assert find_last_checkpoint(tmp_path) is None
    for n in (2, 10, 9):
        save_checkpoint(tmp_path / f"epoch_{n}.pth", {})
    assert find_last_checkpoint(tmp_path).name == "epoch_10.pth"
    (tmp_path / "last_checkpoint").write_text(str(tmp_path / "epoch_9.pth"))
    assert find_last_checkpoint(tmp_path).name == "epoch_9.pth"


def test_checkpoint_contents_and_keep(tmp_path):
    cfg = make_cfg(tmp_path / "w", max_epochs=3)
    cfg["default_hooks"]["checkpoint"] = dict(
        type="CheckpointHook", interval=1, max_keep_ckpts=2, save_best="acc/top1", rule="greater"
    )
    result = train(cfg)
    work = tmp_path / "w"
    names = sorted(p.name for p in work.glob("*.pth"))
    assert [n for n in names if n.startswith("epoch_")] == ["epoch_2.pth", "epoch_3.pth"]
    assert len([n for n in names if n.startswith("best_acc_top1_epoch_")]) == 1
    # issue 8: relative to the work dir (was the absolute path), so a copied work dir resumes
    assert (work / "last_checkpoint").read_text() == "epoch_3.pth"
    ckpt = load_checkpoint(work / "epoch_3.pth")
    assert ckpt["meta"]["epoch"] == 3 and ckpt["meta"]["iter"] == 9
    assert set(ckpt) >= {"meta", "state_dict", "optimizer", "rng", "train_state", "schedulers"}
    assert not any(k.startswith("module.") for k in ckpt["state_dict"])
    assert torch.equal(
        ckpt["state_dict"]["cls_head.fc_cls.weight"], result["model"].cls_head.fc_cls.weight
    )
