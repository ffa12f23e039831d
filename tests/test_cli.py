"""The CLI end to end, as subprocesses: data synth -> train -> resume -> test -> infer -> errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import vidlab

QUICKSTART = Path(vidlab.__file__).parent / "configs" / "quickstart" / "tsm_r18_synthetic_motion.py"
TSN = QUICKSTART.with_name("tsn_r18_synthetic_motion.py")

# A tiny but real run: 8 classes x 3 videos, 2 epochs, batch 4, no workers. The cosine
# schedule's end (10, the config's max_epochs) is cut to 2 by the engine with a note.
TINY = [
    "synthetic_data.videos_per_class=3",
    "train_cfg.max_epochs=2",
    "train_cfg.val_interval=1",
    "param_scheduler.1.T_max=1",
    "train_dataloader.batch_size=4",
    "train_dataloader.num_workers=0",
    "train_dataloader.persistent_workers=False",
    "val_dataloader.num_workers=0",
    "val_dataloader.persistent_workers=False",
    "test_dataloader.num_workers=0",
]


def run(*args, env, check=True, timeout=300):
    proc = subprocess.run(
        [sys.executable, "-m", "vidlab.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"vidlab {args[0]} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return dict(os.environ, VIDLAB_CACHE=str(cache), PYTHONUNBUFFERED="1")


@pytest.fixture(scope="module")
def trained(env, tmp_path_factory):
    work = tmp_path_factory.mktemp("work")
    run("train", QUICKSTART, "--work-dir", work, "--cfg-options", *TINY, env=env)
    return work


def data_root(env) -> Path:
    # issue 8: the dataset lives beside the cache root, keyed by its arguments (one here)
    (root,) = Path(env["VIDLAB_CACHE"]).glob("synthetic_motion-*")
    return root


def test_train_writes_checkpoints_log_and_config(trained):
    assert (trained / "epoch_2.pth").is_file()
    assert (trained / "last_checkpoint").read_text().strip().endswith("epoch_2.pth")
    records = [json.loads(line) for line in (trained / "log.jsonl").read_text().splitlines()]
    train_losses = [r["loss"] for r in records if r.get("mode") == "train"]
    assert train_losses and all(isinstance(v, float) for v in train_losses)
    assert any(r.get("mode") == "val" and "acc/top1" in r for r in records)
    assert "max_epochs=2" in (trained / "config.py").read_text().replace(" ", "")


def test_resume_continues_from_saved_epoch(trained, env):
    more = [*TINY, "train_cfg.max_epochs=3", "param_scheduler.1.end=3"]
    run("train", QUICKSTART, "--work-dir", trained, "--resume", "--cfg-options", *more, env=env)
    records = [json.loads(line) for line in (trained / "log.jsonl").read_text().splitlines()]
    epochs = [r["epoch"] for r in records if r.get("mode") == "train"]
    assert (trained / "epoch_3.pth").is_file()
    # epochs 1 and 2 were logged once (first run), epoch 3 by the resumed run; nothing redone
    assert sorted(set(epochs)) == [1, 2, 3]
    first_run = [e for e in epochs if e <= 2]
    assert epochs[: len(first_run)] == first_run


def test_test_writes_predictions_in_dataset_order(trained, env, tmp_path):
    out = tmp_path / "results.json"
    proc = run(
        "test", QUICKSTART, trained / "epoch_2.pth", "--out", out, "--cfg-options", *TINY, env=env
    )
    assert "top1" in proc.stdout + proc.stderr
    # docs/faq.md "Where is the quickstart's dataset?": test (as train) prints it
    assert f"synthetic data: reused {data_root(env)}" in proc.stdout
    results = json.loads(out.read_text())
    val_lines = (data_root(env) / "val.txt").read_text().splitlines()
    preds = results["predictions"]
    assert len(preds) == len(val_lines)
    assert [p["label"] for p in preds] == [int(line.split()[1]) for line in val_lines]
    assert 0.0 <= results["metrics"]["acc/top1"] <= 1.0


def test_test_metrics_are_mmaction2s(trained, env, tmp_path):
    """issue 15: ``--metrics`` takes MMAction2's names; the values follow its definitions."""
    import numpy as np

    out = tmp_path / "r.json"
    names = ["top_k_accuracy", "mean_class_accuracy", "confusion_matrix"]
    proc = run(
        "test",
        QUICKSTART,
        trained / "epoch_2.pth",
        "--out",
        out,
        "--metrics",
        *names,
        "--cfg-options",
        *TINY,
        env=env,
    )
    assert "confusion_matrix/result:" in proc.stdout
    results = json.loads(out.read_text())
    matrix = np.array(results["metrics"]["confusion_matrix/result"])
    # mean1 from the matrix by MMAction2's definition: classes that are labels or predictions.
    used = (matrix.sum(0) + matrix.sum(1)) > 0
    rows = matrix[used][:, used]  # MMAction2's matrix: the classes used, in order
    expected = np.mean([r[i] / r.sum() if r.sum() else 0.0 for i, r in enumerate(rows)])
    assert results["metrics"]["acc/mean1"] == pytest.approx(expected)
    preds = results["predictions"]
    top1 = sum(p["pred"] == p["label"] for p in preds) / len(preds)
    assert results["metrics"]["acc/top1"] == pytest.approx(top1)


def test_infer_prints_top_k_label_names(trained, env):
    root = data_root(env)
    video = root / (root / "val.txt").read_text().split()[0]
    proc = run(
        "infer",
        QUICKSTART,
        trained / "epoch_2.pth",
        video,
        "--labels",
        root / "labels.txt",
        "--top-k",
        "3",
        "--cfg-options",
        *TINY,
        env=env,
    )
    names = set((root / "labels.txt").read_text().split())
    ranked = [line.split()[1] for line in proc.stdout.splitlines()[1:] if line.strip()]
    assert len(ranked) == 3 and set(ranked) <= names


def test_infer_names_classes_from_the_quickstart_data_without_labels(trained, env):
    """Without --labels, a quickstart config's label_file is found in the dataset that
    training wrote (its folder is keyed by the data's arguments), so names are printed."""
    root = data_root(env)
    video = root / (root / "val.txt").read_text().split()[0]
    proc = run("infer", QUICKSTART, trained / "epoch_2.pth", video, "--cfg-options", *TINY, env=env)
    names = set((root / "labels.txt").read_text().split())
    ranked = [line.split()[1] for line in proc.stdout.splitlines()[1:] if line.strip()]
    assert ranked and set(ranked) <= names, proc.stdout


def test_checkpoint_of_another_model_reports_grouped_keys(trained, env):
    proc = run("test", TSN, trained / "epoch_2.pth", "--cfg-options", *TINY, env=env, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "missing" in proc.stderr.lower() or "unexpected" in proc.stderr.lower()
    assert "conv1.conv.net" in proc.stderr  # TSM's shift wrapper keys are named


def test_bad_config_is_one_clear_error(tmp_path, env):
    bad = tmp_path / "bad.py"
    bad.write_text(
        f"_base_ = [{str(QUICKSTART)!r}]\n"
        "model = dict(backbone=dict(type='ResNetTSMM'), cls_head=dict(dropout_rato=0.1))\n"
    )
    proc = run("print-config", bad, env=env, check=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    err = proc.stderr
    assert "model.backbone" in err and "ResNetTSM" in err  # did you mean
    assert "model.cls_head" in err and "dropout_ratio" in err


def test_print_config_round_trips(tmp_path, env):
    proc = run("print-config", QUICKSTART, "--cfg-options", "train_cfg.max_epochs=7", env=env)
    dumped = tmp_path / "dumped.py"
    dumped.write_text(proc.stdout)
    again = run("print-config", dumped, env=env)
    assert again.stdout == proc.stdout
    assert "max_epochs=7" in proc.stdout.replace(" ", "")


def test_export_writes_a_checked_onnx_model(trained, env, tmp_path):
    pytest.importorskip("onnxruntime")
    out = tmp_path / "tsm.onnx"
    proc = run(
        "export",
        QUICKSTART,
        trained / "epoch_2.pth",
        "--out",
        out,
        "--shape",
        "1",
        "3",
        "8",
        "32",
        "32",
        "--cfg-options",
        *TINY,
        env=env,
    )
    assert out.stat().st_size > 1_000_000  # the weights are in the file
    assert "max |onnxruntime - torch|" in proc.stdout


def test_analyze_logs_summarises_and_rejects_unknown_keys(trained, env, tmp_path):
    proc = run("analyze-logs", trained / "log.jsonl", "--keys", "loss", env=env)
    assert "loss" in proc.stdout
    proc = run("analyze-logs", trained / "log.jsonl", "--keys", "lost", env=env, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "lost" in proc.stderr and "loss" in proc.stderr


def test_a_shortened_run_cuts_the_schedule_with_one_note(trained):
    # Issue 8 changed this expectation: train_cfg.max_epochs=2 alone (param_scheduler[1] still
    # ends at 10) used to be an error; MMEngine tolerates it, so the schedule is cut at 2 with
    # one printed note.
    log = (trained / "train.log").read_text()
    assert log.count("note: training ends after 2 epochs") == 1
    assert "param_scheduler[1].end 10 -> 2" in log


@pytest.mark.parametrize(
    "model, backbone",
    [
        ("x3d", "X3D"),
        ("i3d", "ResNet3d"),
        pytest.param("vit", "VisionTransformer", marks=pytest.mark.slow),  # the micro ViT
    ],
)
def test_quickstart_3d_runs_end_to_end(tmp_path, env, model, backbone):
    # The 3D quickstarts (CNNs and the micro transformer), shortened: data, training, test of
    # the best checkpoint, inference on a held-out video and summary.json. (Their full runs'
    # accuracy and time are in the README.)
    work = tmp_path / model
    proc = run("quickstart", "--model", model, "--work-dir", work, "--cfg-options", *TINY, env=env)
    summary = json.loads((work / "summary.json").read_text())
    assert summary["model"] == model
    config = (work / "config.py").read_text()
    assert f"type='{backbone}'" in config and "type='UniformSample'" in config
    assert 0.0 <= summary["top1"] <= 1.0 and len(summary["inference"]["top5"]) == 5
    assert Path(summary["checkpoint"]).is_file()
    assert "[quickstart] top-1" in proc.stdout
