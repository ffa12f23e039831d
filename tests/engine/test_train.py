import json
import pickle

import pytest
import torch
from engine_helpers import BNHeadRecognizer, TinyRecognizer, make_cfg

from vidlab.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from vidlab.compat.mmengine import EpochBasedTrainLoop
from vidlab.config import build
from vidlab.engine.train import TrainingError, train
from vidlab.engine.train import test as run_test
from vidlab.models import create_model


class NaNAfter(TinyRecognizer):
    """The loss turns NaN at the 5th call (epoch 2, iteration 2 with 3 iterations per epoch)."""

    calls = 0

    def loss(self, logits, labels):
        NaNAfter.calls += 1
        loss = super().loss(logits, labels)
        return loss * float("nan") if NaNAfter.calls >= 5 else loss


def test_nan_loss_stops_with_advice(tmp_path):
    NaNAfter.calls = 0
    cfg = make_cfg(tmp_path / "w", max_epochs=3)
    cfg["model"] = dict(type=NaNAfter)
    with pytest.raises(TrainingError) as err:
        train(cfg)
    text = str(err.value)
    assert "epoch 2, iteration 2/3" in text
    assert str(tmp_path / "w" / "epoch_1.pth") in text
    assert "clip_grad" in text and "lower learning rate" in text
    assert load_checkpoint(tmp_path / "w" / "epoch_1.pth")["meta"]["epoch"] == 1


def test_batchnorm_and_a_last_batch_of_one(tmp_path):
    cfg = make_cfg(tmp_path / "a", max_epochs=1)
    cfg["model"] = dict(type=BNHeadRecognizer)
    cfg["train_dataloader"]["dataset"]["num_samples"] = 9  # 4 + 4 + 1
    result = train(cfg)
    assert result["iter"] == 2  # the incomplete batch was dropped by default
    assert "incomplete last batch" in (tmp_path / "a" / "train.log").read_text()

    cfg = make_cfg(tmp_path / "b", max_epochs=1)
    cfg["model"] = dict(type=BNHeadRecognizer)
    cfg["train_dataloader"].update(drop_last=False)
    cfg["train_dataloader"]["dataset"]["num_samples"] = 9
    result = train(cfg)  # no "Expected more than 1 value per channel"
    assert result["iter"] == 2
    assert "skipped a training batch of one clip" in (tmp_path / "b" / "train.log").read_text()


def test_amp_on_cpu_is_a_noted_noop(tmp_path):
    cfg = make_cfg(tmp_path / "w", max_epochs=1)
    train(cfg, amp=True)
    assert "--amp has no effect on the CPU" in (tmp_path / "w" / "train.log").read_text()


def test_gradient_accumulation_matches_a_bigger_batch(tmp_path):
    def run(name, batch_size, acc):
        cfg = make_cfg(tmp_path / name, max_epochs=2)
        cfg["model"] = dict(type=TinyRecognizer, bn=False, dropout=0.0)
        cfg["train_dataloader"]["batch_size"] = batch_size
        cfg["optim_wrapper"] = dict(
            optimizer=dict(type="SGD", lr=0.1, momentum=0.9), accumulative_counts=acc
        )
        cfg["val_dataloader"] = None
        return train(cfg)["model"].state_dict()

    big, accumulated = run("big", 4, 1), run("acc", 2, 2)
    for key in big:
        torch.testing.assert_close(big[key], accumulated[key], rtol=1e-5, atol=1e-6)


def test_channels_last_runs(tmp_path):
    cfg = make_cfg(tmp_path / "w", max_epochs=1, channels_last=True)
    result = train(cfg)
    assert result["model"].backbone[0].weight.is_contiguous(memory_format=torch.channels_last_3d)


def test_val_schedule_like_mmengine():
    loop = EpochBasedTrainLoop(max_epochs=7, val_begin=2, val_interval=3)
    assert [e for e in range(1, 8) if loop.val_due(e)] == [3, 6, 7]
    with pytest.raises(ValueError, match="max_epochs must be >= 1"):
        EpochBasedTrainLoop(max_epochs=0)


def test_logs_and_config(tmp_path):
    train(make_cfg(tmp_path / "w", max_epochs=2))
    records = [json.loads(line) for line in (tmp_path / "w" / "log.jsonl").read_text().splitlines()]
    train_recs = [r for r in records if r["mode"] == "train"]
    val_recs = [r for r in records if r["mode"] == "val"]
    assert len(train_recs) == 6 and [r["epoch"] for r in val_recs] == [1, 2]
    assert set(train_recs[0]) >= {"epoch", "iter", "lr", "loss", "data_time", "time", "clips_per_s"}
    assert {"acc/top1", "acc/top2", "acc/mean1"} <= set(val_recs[0])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    work = tmp_path_factory.mktemp("trained")
    result = train(make_cfg(work, max_epochs=1))
    return work, result


def test_test_writes_predictions_in_dataset_order(trained, tmp_path):
    work, result = trained
    cfg = make_cfg(work)
    out = run_test(cfg, result["last_checkpoint"], out=tmp_path / "preds.json")
    saved = json.loads((tmp_path / "preds.json").read_text())
    preds = saved["predictions"]
    assert [p["index"] for p in preds] == list(range(8))
    assert preds[3]["filename"] == "video_3.mp4" and preds[3]["label"] == 3
    assert len(preds[0]["top5_labels"]) == 4  # only 4 classes
    assert saved["metrics"] == out["metrics"]
    top1 = sum(p["pred"] == p["label"] for p in preds) / 8
    assert out["metrics"]["acc/top1"] == pytest.approx(top1)

    res = run_test(
        cfg, result["last_checkpoint"], out=tmp_path / "p.pkl", metrics=["mean_class_accuracy"]
    )
    assert list(res["metrics"]) == ["acc/mean1"]
    with open(tmp_path / "p.pkl", "rb") as f:
        assert pickle.load(f)["metrics"] == res["metrics"]


def test_test_max_testing_views_gives_same_scores(trained):
    work, result = trained
    cfg = make_cfg(work)
    plain = run_test(cfg, result["last_checkpoint"])
    cfg["test_cfg"] = dict(type="TestLoop", max_testing_views=1)
    chunked = run_test(cfg, result["last_checkpoint"])
    for a, b in zip(plain["predictions"], chunked["predictions"]):
        assert a["top5_scores"] == pytest.approx(b["top5_scores"], abs=1e-6)


def test_test_with_another_models_checkpoint(trained, tmp_path):
    work, _ = trained
    path = tmp_path / "other.pth"
    save_checkpoint(path, {"state_dict": TinyRecognizer(num_classes=7).state_dict()})
    with pytest.raises(
        CheckpointError, match=r"shape mismatch, skipped: cls_head.fc_cls.weight \(7, 8\)"
    ):
        run_test(make_cfg(work), path)


def test_test_bad_out_suffix(trained):
    work, result = trained
    with pytest.raises(ValueError, match=r"\.json, \.pkl, \.csv or \.yaml"):
        run_test(make_cfg(work), result["last_checkpoint"], out="preds.txt")


def test_test_yaml_output(trained, tmp_path, monkeypatch):
    work, result = trained
    yaml = pytest.importorskip("yaml")
    run_test(make_cfg(work), result["last_checkpoint"], out=tmp_path / "p.yaml")
    saved = yaml.safe_load((tmp_path / "p.yaml").read_text())
    assert len(saved["predictions"]) == 8 and "acc/top1" in saved["metrics"]

    import builtins

    real_import = builtins.__import__

    def no_yaml(name, *args, **kwargs):
        if name == "yaml":
            raise ImportError("No module named 'yaml'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_yaml)
    with pytest.raises(ImportError, match="needs PyYAML: pip install pyyaml"):
        run_test(make_cfg(work), result["last_checkpoint"], out=tmp_path / "q.yaml")


def test_real_recognizer_with_blending(tmp_path):
    """TSN-R18 from the model zoo, with CutMix on (B, V, C, T, H, W) clips."""

    def tsn(num_classes):
        model = create_model("tsn_r18_1x1x8", num_classes=num_classes)
        model.data_preprocessor.blending = build(
            dict(type="CutmixBlending", num_classes=num_classes)
        )
        return model

    cfg = make_cfg(tmp_path / "w", max_epochs=1)
    cfg["model"] = dict(type=tsn, num_classes=4)
    cfg["train_dataloader"]["dataset"].update(num_samples=4, clip_len=4, size=16)
    cfg["val_dataloader"]["dataset"].update(num_samples=3, clip_len=4, size=16)
    cfg["test_dataloader"] = None
    result = train(cfg)
    assert result["iter"] == 1 and "acc/top1" in result["metrics"]


class TiedRecognizer(TinyRecognizer):
    """Scores tie between classes 2 and 3 for every clip (as quantised or fp16 outputs do)."""

    def forward(self, clips):
        logits = super().forward(clips) * 0  # keeps the parameters in the graph
        return logits + torch.tensor([0.0, 0.0, 1.0, 1.0])


def test_test_reports_mmaction2_metric_values(trained, tmp_path):
    """issue 15: ties rank the higher class first in top-k (MMAction2), mean1 counts argmax."""
    work, result = trained
    cfg = make_cfg(work)
    cfg["model"] = dict(type=TiedRecognizer, num_classes=4)
    names = ["top_k_accuracy", "mean_class_accuracy", "balanced_accuracy", "confusion_matrix"]
    out = run_test(cfg, result["last_checkpoint"], metrics=names)
    labels = [p["label"] for p in out["predictions"]]
    m = out["metrics"]
    # top1: class 3 ranks first among the tied 2 and 3 (vidlab before issue 15: class 2).
    assert m["acc/top1"] == labels.count(3) / len(labels)
    assert all(p["pred"] == 3 for p in out["predictions"])
    # mean1 uses argmax (the first maximum, class 2): only class 2 is right, 1 of 4 classes.
    assert m["acc/mean1"] == m["acc/balanced1"] == 0.25
    matrix = m["confusion_matrix/result"]
    assert [row[2] for row in matrix] == [labels.count(c) for c in range(4)]
