"""`vidlab test` and its outputs, the 0.x habits, --onnx, report-accuracy, analyze-model and
benchmark, as subprocesses on the synthetic dataset (6 classes x 2 videos, 32 px)."""

from __future__ import annotations

import csv
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import vidlab

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = Path(vidlab.__file__).parent / "configs" / "quickstart" / "tsm_r18_synthetic_motion.py"
FIXTURES = ROOT / "tests" / "fixtures" / "metrics" / "report_accuracy"
SMALL = ["synthetic_data.videos_per_class=2", "test_dataloader.num_workers=0"]


def run(*args, env, check=True, script=None):
    cmd = [sys.executable, str(script)] if script else [sys.executable, "-m", "vidlab.cli.main"]
    proc = subprocess.run(
        [*cmd, *map(str, args)], capture_output=True, text=True, env=env, timeout=300
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"vidlab {args[0]} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    # one thread per process: the models are tiny, and the machine running tests may be busy
    return dict(
        os.environ,
        VIDLAB_CACHE=str(cache),
        PYTHONUNBUFFERED="1",
        PYTHONPATH=path,
        OMP_NUM_THREADS="1",
    )


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory, env):
    """Seeded random weights of the quickstart TSM (no training needed to test the outputs)."""
    from vidlab.config import load_config
    from vidlab.engine.build import build_model

    torch.manual_seed(0)
    cfg = load_config(QUICKSTART, SMALL)
    model = build_model(cfg, torch.device("cpu"))
    with torch.no_grad():  # a livelier classifier than the default init: distinct predictions
        model.cls_head.fc_cls.weight.normal_(0, 0.5)
    path = tmp_path_factory.mktemp("ckpt") / "tsm.pth"
    torch.save({"state_dict": model.state_dict()}, path)
    return path


def val_lines(env) -> list[str]:
    (root,) = Path(env["VIDLAB_CACHE"]).glob("synthetic_motion-*")
    return (root / "val.txt").read_text().splitlines()


def test_outputs_csv_dump_report_and_progress(ckpt, env, tmp_path):
    out, dump, rep = tmp_path / "r.csv", tmp_path / "d.pkl", tmp_path / "rep"
    names = ["top_k_accuracy", "mean_class_accuracy", "per_class_accuracy"]
    proc = run(
        "test", QUICKSTART, ckpt, "--out", out, "--dump", dump, "--report-dir", rep,
        "--metrics", *names, "--progress", "--cfg-options", *SMALL, env=env,
    )  # fmt: skip
    lines = val_lines(env)
    assert f"{len(lines)}/{len(lines)}" in proc.stderr and "video" in proc.stderr  # the bar
    rows = list(csv.DictReader(out.open()))
    assert [int(r["label"]) for r in rows] == [int(line.split()[1]) for line in lines]
    samples = pickle.load(dump.open("rb"))
    assert len(samples) == len(lines)
    for s, r in zip(samples, rows):
        assert s["logits"].shape == (2, 6)  # twice_sample: 2 views of 6 classes
        # TSM's head has average_clips='prob': the mean of the views' softmax
        torch.testing.assert_close(s["pred_score"], torch.softmax(s["logits"], 1).mean(0))
        assert int(s["pred_label"]) == int(r["pred"]) == int(s["pred_score"].argmax())
        assert int(s["gt_label"]) == int(r["label"])
    scores = np.stack([s["pred_score"].numpy() for s in samples])
    labels = np.array([int(s["gt_label"]) for s in samples])
    matrix = np.array(
        [
            [int(v) for v in row[1:]]
            for row in list(csv.reader(open(rep / "confusion_matrix.csv")))[1:]
        ]
    )
    assert matrix.sum() == len(lines) and np.trace(matrix) == (scores.argmax(1) == labels).sum()
    per_class = list(csv.DictReader(open(rep / "per_class_accuracy.csv")))
    mean1 = float(proc.stdout.split("acc/mean1:")[1].split()[0])
    assert np.mean([float(r["accuracy"]) for r in per_class]) == pytest.approx(mean1, abs=1e-4)
    assert per_class[0]["name"] == "move_left"  # names from the config's label_file
    assert "acc/per_class:" in proc.stdout
    if (rep / "confusion_matrix.png").exists():
        assert (rep / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"


def test_0x_test_habits_through_tools_test_py(ckpt, env, tmp_path):
    out = tmp_path / "r.json"
    proc = run(
        QUICKSTART, ckpt, "--eval", "top_k_accuracy", "mean_class_accuracy",
        "--options", "topk=1,3", "--average-clips", "score", "--gpus", "1", "--out", out,
        "--gpu-collect", "--tmpdir", tmp_path / "collect",
        "--cfg-options", *SMALL, env=env, script=ROOT / "tools" / "test.py",
    )  # fmt: skip
    metrics = json.loads(out.read_text())["metrics"]
    assert set(metrics) == {"acc/top1", "acc/top3", "acc/mean1"}
    assert "--options/--eval-options is MMAction2 0.x's" in proc.stderr
    assert "--gpus 1 is MMAction2 0.x's" in proc.stderr
    assert "--gpu-collect/--tmpdir is MMAction2 0.x's" in proc.stderr
    proc = run("test", QUICKSTART, tmp_path / "tsn.trt", "--tensorrt", env=env, check=False)
    assert proc.returncode == 2 and "vidlab test CONFIG model.onnx --onnx" in proc.stderr


def test_0x_train_habits_test_last_and_best(env, tmp_path):
    work = tmp_path / "work"
    tiny = [
        *SMALL,
        "train_cfg.max_epochs=1",
        "param_scheduler.1.T_max=1",
        "train_dataloader.batch_size=4",
        "train_dataloader.num_workers=0",
        "train_dataloader.persistent_workers=False",
        "val_dataloader.num_workers=0",
        "val_dataloader.persistent_workers=False",
    ]
    proc = run(
        QUICKSTART, "--work-dir", work, "--validate", "--test-last", "--test-best",
        "--options", *tiny,
        env=env, script=ROOT / "tools" / "train.py",
    )  # fmt: skip
    assert "--validate is MMAction2 0.x's" in proc.stderr
    assert "--options is MMAction2 0.x's" in proc.stderr
    for name in ("last", "best"):  # save_best='auto': one best checkpoint, on acc/top1
        payload = pickle.load((work / f"{name}_pred.pkl").open("rb"))
        assert len(payload["predictions"]) == len(val_lines(env))
        assert "acc/top1" in payload["metrics"]
    assert "testing the best checkpoint" in proc.stdout


def test_train_habit_mapping():
    from vidlab.cli.main import build_parser
    from vidlab.cli.testing import gpus_argv, run_train_habits, torchrun_argv

    args = build_parser().parse_args(
        ["train", "c.py", "--resume-from", "e.pth", "--options", "a=1", "--cfg-options", "b=2"]
    )
    assert run_train_habits(args) is None
    assert args.resume == "e.pth" and args.cfg_options == ["b=2", "a=1"]
    argv = torchrun_argv(["train", "c.py"], 4)
    assert argv[1:4] == ["-m", "torch.distributed.run", "--nproc_per_node=4"]
    assert argv[-4:] == ["train", "c.py", "--launcher", "pytorch"]
    # `python tools/train.py c.py --gpus 2 --seed 1`: no command name in argv, --gpus dropped
    argv = gpus_argv("train", ["c.py", "--gpus", "2", "--seed", "1"], 2)
    assert argv[4:] == [
        "-m",
        "vidlab.cli.main",
        "train",
        "c.py",
        "--seed",
        "1",
        "--launcher",
        "pytorch",
    ]


def test_report_accuracy_prints_what_mmaction2s_tool_prints(env):
    """One case as a subprocess; all cases in tests/evaluation/test_report_accuracy.py."""
    expected = json.loads((FIXTURES / "expected.json").read_text())["three_softmax"]
    args = [FIXTURES / a if a.endswith(".pkl") else a for a in expected["args"]]
    proc = run("report-accuracy", *args, env=env)
    assert proc.stdout == expected["stdout"]
    proc = run(
        "report-accuracy",
        "--preds",
        FIXTURES / "rgb.pkl",
        "--coefficients",
        "1",
        "2",
        env=env,
        check=False,
    )
    assert proc.returncode == 2 and "1 prediction files but 2 coefficients" in proc.stderr


def test_analyze_model_and_benchmark(env):
    proc = run("analyze-model", QUICKSTART, "--cfg-options", *SMALL, env=env)
    assert "input clips (1, 3, 8, 32, 32)" in proc.stdout
    assert "backbone" in proc.stdout and "cls_head" in proc.stdout and "total" in proc.stdout
    proc = run(
        "benchmark", QUICKSTART, "--iters", "2", "--data-batches", "1", "--device", "cpu",
        "--cfg-options", *SMALL, env=env,
    )  # fmt: skip
    assert "clips/s on cpu" in proc.stdout and "videos/s" in proc.stdout


def test_onnx_ten_crop_view_memory_pkl_and_map_metrics(ckpt, env, tmp_path):
    """issue 12 as typed: `vidlab export`, then `python tools/test.py CONFIG model.onnx --onnx`
    with TenCrop (x twice_sample = 20 views), a 1 KiB view budget (one view at a time) and
    `--gpu-ids`; `--out r.pkl` with the mAP metrics, which are those of the dumped scores."""
    from vidlab.evaluation import mean_average_precision, mmit_mean_average_precision

    ten = [*SMALL, "test_dataloader.dataset.pipeline.4.type=TenCrop"]
    onnx_file, out, ref, got = (tmp_path / n for n in ("m.onnx", "r.pkl", "a.pkl", "b.pkl"))
    run("export", QUICKSTART, ckpt, "--out", onnx_file, "--cfg-options", *SMALL, env=env)
    maps = ["mean_average_precision", "mmit_mean_average_precision"]
    run(
        "test", QUICKSTART, ckpt, "--out", out, "--dump", ref, "--metrics", *maps,
        "--cfg-options", *ten, env=env,
    )  # fmt: skip
    proc = run(
        QUICKSTART, onnx_file, "--onnx", "--view-memory", "1K", "--gpu-ids", "0", "--dump", got,
        "--cfg-options", *ten, env=env, script=ROOT / "tools" / "test.py",
    )  # fmt: skip
    assert "at most 1 view(s) at once" in proc.stdout and "(onnxruntime)" in proc.stdout
    assert "--gpu-ids is MMAction2 0.x's" in proc.stderr
    a, b = pickle.load(ref.open("rb")), pickle.load(got.open("rb"))
    assert len(a) == len(b) == len(val_lines(env)) and a[0]["logits"].shape == (20, 6)
    for x, y in zip(a, b):
        torch.testing.assert_close(y["pred_score"], x["pred_score"], rtol=1e-4, atol=1e-5)
    payload = pickle.load(out.open("rb"))
    scores = np.stack([s["pred_score"].numpy() for s in a])
    labels = np.array([int(s["gt_label"]) for s in a])
    metrics = payload["metrics"]
    assert metrics["acc/mean_average_precision"] == pytest.approx(
        mean_average_precision(scores, labels), abs=1e-6
    )
    assert metrics["acc/mmit_mean_average_precision"] == pytest.approx(
        mmit_mean_average_precision(scores, labels), abs=1e-6
    )
    assert len(payload["predictions"]) == len(a)
