"""RGB + pose (RGBPoseConv3D) through the task seam: dict inputs, two loss terms, scores per
stream, and end to end through ``vidlab train`` / ``vidlab test`` on synthetic skeletons
rendered as videos."""

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import vidlab
from vidlab.config import build, load_config
from vidlab.data.skeleton.render import render_dataset
from vidlab.data.skeleton.synthetic import write_synthetic_skeletons
from vidlab.engine.loop import forward, num_inputs
from vidlab.evaluation.metrics import AccMetric, top_k_accuracy
from vidlab.tasks import build_task
from vidlab.tasks.multimodal import MultiModalRecognitionTask

CONFIG = Path(vidlab.__file__).parent / "configs/skeleton/rgbpose_conv3d_synthetic.py"
ACTIONS = ("wave", "squat", "jump", "walk_left")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The config's data in a fresh directory: 16 train, 4 val, 4 test samples and videos."""
    root = tmp_path_factory.mktemp("rgbpose")
    ann = write_synthetic_skeletons(
        root / "synthetic_skeletons.pkl", num_train=4, num_val=1, num_test=1, actions=ACTIONS,
        num_frames=(32, 40),
    )  # fmt: skip
    videos = render_dataset(ann, root / "videos", size=64)
    assert len(videos) == 24 and all(v.stat().st_size > 0 for v in videos)
    return root


@pytest.fixture(scope="module")
def cfg():
    return load_config(CONFIG)


def test_task_is_inferred_for_mmrecognizer3d(cfg):
    assert isinstance(build_task(cfg), MultiModalRecognitionTask)
    assert isinstance(build_task({"task": "MultiModalRecognitionTask"}), MultiModalRecognitionTask)
    assert type(build_task({"model": {"type": "Recognizer3D"}})).__name__ == "RecognitionTask"


def test_pipeline_batches_both_inputs_and_the_task_folds_views(cfg, data, monkeypatch):
    """The config's test pipeline packs imgs and heatmap_imgs; collated they are (B, V, ...);
    the task folds the views of both and repeats the labels; predict averages per stream, the
    same in chunks of views (max_testing_views) as at once."""
    from vidlab.data.skipped import collate_skip_none

    monkeypatch.chdir(data)
    ds = build(cfg.test_dataloader.dataset)
    batch = collate_skip_none([ds[0], ds[3]])
    imgs, heat = batch["inputs"]["imgs"], batch["inputs"]["heatmap_imgs"]
    assert imgs.shape == (2, 2, 3, 8, 64, 64) and imgs.dtype == torch.uint8  # 2 views of 8 frames
    assert heat.shape == (2, 2, 17, 32, 16, 16) and float(heat.max()) > 0.5  # 32 heatmap frames
    assert batch["label"].tolist() == [0, 3]

    task = MultiModalRecognitionTask()
    assert task.batch_size(batch) == 2
    inputs, labels = task.prepare(batch, torch.device("cpu"), model=None)
    assert inputs["imgs"].shape == (4, 3, 8, 64, 64) and labels.tolist() == [0, 0, 3, 3]
    assert num_inputs(inputs) == 4 and num_inputs(inputs["imgs"]) == 4

    torch.manual_seed(0)
    model = build(cfg.model).eval()
    with torch.no_grad():
        logits = forward(model, inputs)  # model(**inputs)
        scores, labels = task.predict(model, batch, torch.device("cpu"))
        chunked, _ = task.predict(model, batch, torch.device("cpu"), max_views=3)
    assert set(logits) == {"rgb", "pose"} and logits["rgb"].shape == (4, 4)
    assert len(scores) == 2 and set(scores[0]) == {"rgb", "pose"}
    for stream in ("rgb", "pose"):  # 'prob': the mean of the views' softmax
        expected = logits[stream].softmax(1).reshape(2, 2, 4).mean(1)
        got = torch.stack([s[stream] for s in scores])
        torch.testing.assert_close(got, expected)
        torch.testing.assert_close(torch.stack([s[stream] for s in chunked]), got)
    with pytest.raises(KeyError, match="collect_keys"):
        task.prepare({"clips": imgs, "label": labels}, torch.device("cpu"), model=model)


MMACTION2 = {
    "rgb_top1": 0.0, "rgb_top5": 1.0, "rgb_mean1": 0.0,
    "pose_top1": 5 / 12, "pose_top5": 1.0, "pose_mean1": 0.44000000000000006,
    "RGBPose_1:1_top1": 1 / 3, "RGBPose_1:1_top5": 1.0, "RGBPose_1:1_mean1": 0.44000000000000006,
    "RGBPose_2:1_top1": 1 / 12, "RGBPose_2:1_top5": 1.0, "RGBPose_2:1_mean1": 0.04,
    "RGBPose_1:2_top1": 1 / 3, "RGBPose_1:2_top5": 1.0, "RGBPose_1:2_mean1": 0.44000000000000006,
}  # fmt: skip


def test_acc_metric_per_stream_and_fused_as_mmaction2():
    """MMAction2's AccMetric on pred_score dicts: '<stream>_top1', ... and the weighted sums
    RGBPose_1:1 / 2:1 / 1:2 (a float64 dot over the streams)."""
    rng = np.random.default_rng(0)
    rgb, pose = rng.random((12, 5)).astype(np.float32), rng.random((12, 5)).astype(np.float32)
    labels = rng.integers(0, 5, 12)
    scores = [{"rgb": torch.from_numpy(r), "pose": torch.from_numpy(p)} for r, p in zip(rgb, pose)]
    metrics = AccMetric().compute(scores, labels)
    prefixes = ["rgb", "pose", "RGBPose_1:1", "RGBPose_2:1", "RGBPose_1:2"]
    assert list(metrics) == [f"acc/{p}_{m}" for p in prefixes for m in ("top1", "top5", "mean1")]
    assert metrics["acc/rgb_top1"] == top_k_accuracy(rgb, labels, (1,))[0]
    assert metrics["acc/pose_top1"] == top_k_accuracy(pose, labels, (1,))[0]
    fused = 2.0 * rgb.astype(np.float64) + pose
    assert metrics["acc/RGBPose_2:1_top1"] == top_k_accuracy(fused, labels, (1,))[0]
    # MMAction2's process/compute_metrics API (keys without the prefix): MMAction2 1.2.0's own
    # AccMetric().compute_metrics on these results gave MMACTION2 (run in its reference env)
    results = [
        {"pred": {"rgb": r, "pose": p}, "label": int(k)} for r, p, k in zip(rgb, pose, labels)
    ]
    ours = AccMetric().compute_metrics(results)
    assert list(ours) == list(MMACTION2) and ours == pytest.approx(MMACTION2, abs=1e-12)
    assert ours["RGBPose_2:1_top1"] == metrics["acc/RGBPose_2:1_top1"]
    only = AccMetric().compute([{"rgb": torch.from_numpy(r)} for r in rgb], labels)
    assert list(only) == ["acc/rgb_top1", "acc/rgb_top5", "acc/rgb_mean1"]  # no fusion


def _run(args, cwd):
    proc = subprocess.run(
        [sys.executable, "-m", "vidlab.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout


def test_train_then_test_through_the_cli(data):
    """`vidlab train` of the small RGBPose config: both loss terms logged, summed, falling; the
    validation metrics per stream and fused; then `vidlab test` writes them and predictions."""
    work = data / "work"
    _run(["train", str(CONFIG), "--work-dir", str(work), "--seed", "0"], data)
    log = [json.loads(line) for line in (work / "log.jsonl").read_text().splitlines()]
    train = [r for r in log if r["mode"] == "train"]
    assert len(train) == 12  # 6 epochs of 2 batches of 8
    for r in train:
        assert r["loss"] == pytest.approx(r["rgb_loss_cls"] + r["pose_loss_cls"], rel=1e-5)
    first = np.mean([r["loss"] for r in train if r["epoch"] == 1])
    last = np.mean([r["loss"] for r in train if r["epoch"] == 6])
    assert last < first - 0.05, (first, last)
    val = [r for r in log if r["mode"] == "val"]
    assert len(val) == 6
    for key in ("acc/rgb_top1", "acc/pose_top1", "acc/RGBPose_1:1_top1", "acc/RGBPose_1:2_mean1"):
        assert 0 <= val[-1][key] <= 1

    out = data / "test.json"
    stdout = _run(
        ["test", str(CONFIG), str(work / "epoch_6.pth"), "--out", str(out), "--dump",
         str(data / "dump.pkl"), "--metrics", "top_k_accuracy", "per_class_accuracy",
         "confusion_matrix"],
        data,
    )  # fmt: skip
    assert "acc/RGBPose_1:1_top1" in stdout
    result = json.loads(out.read_text())
    assert {"acc/rgb_top1", "acc/pose_top5", "acc/RGBPose_2:1_top1"} <= set(result["metrics"])
    assert set(result["metrics"]["acc/per_class"]) == {"0", "1", "2", "3"}
    preds = result["predictions"]
    assert [p["label"] for p in preds] == [0, 1, 2, 3]
    assert all(set(p["stream_preds"]) == {"rgb", "pose"} for p in preds)
    hits = np.mean([p["pred"] == p["label"] for p in preds])
    assert hits == pytest.approx(result["metrics"]["acc/RGBPose_1:1_top1"])
    matrix = np.array(result["metrics"]["confusion_matrix/result"])  # of the 1:1 fusion
    assert matrix.shape == (4, 4) and np.trace(matrix) / 4 == pytest.approx(hits)
    with open(data / "dump.pkl", "rb") as f:
        dump = pickle.load(f)
    assert set(dump[0]["pred_score"]) == {"rgb", "pose"} and len(dump) == 4
    assert dump[0]["pred_label"].item() == preds[0]["pred"]

    # `vidlab infer` on one RGB + pose sample (its video found through data_prefix.video)
    stdout = _run(
        ["infer", str(CONFIG), str(work / "epoch_6.pth"),
         "synthetic_skeletons.pkl:synth_jump_test_0005"],
        data,
    )  # fmt: skip
    rows = [line.split() for line in stdout.splitlines() if line.strip()[:2] in ("1.", "2.")]
    assert len(rows) == 2 and 0 < float(rows[0][-1]) <= 1


def _train_model(root, fixture, dtype):
    import importlib.util

    from vidlab.checkpoint import load_weights

    spec = importlib.util.spec_from_file_location("seeded", root / "tools/parity/seeded.py")
    seeded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seeded)
    weights = torch.load(
        root / "tests/fixtures/parity" / fixture["eval_fixture"], weights_only=True
    )
    model_cfg = dict(weights["model"])
    assert fixture["changes"] == {"cls_head.dropout": 0.0}
    model_cfg["cls_head"] = {**model_cfg["cls_head"], "dropout": 0.0}
    model = build(model_cfg)
    scale = {**weights["scale"], **fixture["cls_scale"]}
    state = seeded.seeded_state_dict(weights["spec"], weights["seed"], scale)
    assert load_weights(model, {"state_dict": state}, strict=True).ok
    return model.to(dtype).train()


def test_one_training_step_equals_mmaction2():
    """One training step of MMAction2's full-size RGBPoseConv3D (tools/parity/rgbpose_train.py,
    run in its reference env) through vidlab's task and engine functions: the same
    rgb_loss_cls / pose_loss_cls and BatchNorm running statistics (float32), and gradients
    (float64, where rounding cannot hide a wrong step)."""
    root = Path(__file__).resolve().parents[2]
    fixture = torch.load(
        root / "tests/fixtures/parity_train/rgbpose_conv3d_train_step.pt", weights_only=True
    )
    heat = fixture["inputs"]["heatmap_imgs"].float() / 255  # as the fixture fed MMAction2
    batch = {"inputs": {"imgs": fixture["inputs"]["imgs"][:, None], "heatmap_imgs": heat[:, None]},
             "label": fixture["labels"]}  # fmt: skip
    task = MultiModalRecognitionTask()

    def rel(a, b):
        return ((a - b).abs().max() / b.abs().max()).item()

    # float32, as training runs: the loop's forward(model, inputs) -> the task's loss terms
    model = _train_model(root, fixture, torch.float32)
    x, y = task.prepare(batch, torch.device("cpu"), model=model)
    terms = task.loss_terms(model, forward(model, x), y)
    assert list(terms) == ["rgb_loss_cls", "pose_loss_cls"]
    for key, value in fixture["losses"].items():
        assert rel(terms[key].detach(), value) <= 1e-6, key
    buffers = dict(model.named_buffers())
    for key, value in fixture["stats"].items():
        assert rel(buffers[key], value) <= 1e-6, key

    # float64 (MMRecognizer3D.forward casts to float32, so its parts are called here)
    model = _train_model(root, fixture, torch.float64)
    x, y = task.prepare(batch, torch.device("cpu"), model=model)
    x = model.data_preprocessor(imgs=x["imgs"], heatmap_imgs=x["heatmap_imgs"].double())
    logits = model.cls_head(model.backbone(x["imgs"], x["heatmap_imgs"]))
    terms = task.loss_terms(model, logits, y)
    sum(terms.values()).backward()
    for key, value in fixture["losses64"].items():
        assert rel(terms[key].detach(), value) <= 1e-12, key
    params = dict(model.named_parameters())
    for key, grad in fixture["grads"].items():
        assert rel(params[key].grad, grad) <= 1e-9, key
    for key, grad in fixture["sliced"].items():
        assert rel(params[key].grad[:2], grad) <= 1e-9, key
