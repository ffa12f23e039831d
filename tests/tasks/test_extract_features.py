"""`vidlab extract-features`: snippet features of untrimmed videos, in the localizers' format."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import vidlab
from vidlab.data.localization import ActivityNetDataset, LoadLocalizationFeature
from vidlab.data.synthetic.encode import write_video
from vidlab.data.synthetic.render import render_clip
from vidlab.features import extract_features, resample_rows
from vidlab.inference import init_recognizer

QUICKSTART = Path(vidlab.__file__).parent / "configs/quickstart/tsm_r18_synthetic_motion.py"


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    root = tmp_path_factory.mktemp("untrimmed")
    frames = np.concatenate([render_clip("grow", 0, 24, 32), render_clip("move_left", 1, 26, 32)])
    return write_video(root / "long_one.mp4", frames, fps=10)  # 50 frames, 5 s


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return init_recognizer(QUICKSTART)  # random weights: features, not accuracy


def test_one_row_per_window_then_resampled(model, video):
    feats, info = extract_features(model, video, window=8, stride=8)
    # windows start at 0, 8, ..., 40 (the last one ends at frame 48 of 50)
    assert feats.shape == (6, model.num_features) and feats.dtype == np.float32
    assert info["duration_frame"] == 50 and info["feature_frame"] == 48 and info["windows"] == 6
    assert info["duration_second"] == pytest.approx(5.0)
    # each row is the pooled feature of its window's clip (views averaged): the first by hand
    from vidlab.data.io import read_frames
    from vidlab.data.pipeline import Compose
    from vidlab.inference import _test_pipeline, prepare_clips

    clips = prepare_clips(Compose(_test_pipeline(model.cfg)), read_frames(video, range(8)))
    with torch.inference_mode():
        first = model.forward_head(model.forward_features(clips), pre_logits=True).mean(0)
    np.testing.assert_allclose(feats[0], first.numpy(), rtol=1e-4, atol=1e-5)
    resampled, info = extract_features(model, video, window=8, stride=8, temporal_dim=10)
    assert resampled.shape == (10, model.num_features)


def test_resampling_interpolates_between_window_centres():
    rows = np.array([[0.0, 10.0], [2.0, 30.0]])
    out = resample_rows(rows, np.array([4.0, 12.0]), num_frames=16, temporal_dim=4)
    # targets at frames 2, 6, 10, 14: before, 1/4, 3/4 of the way, after
    np.testing.assert_allclose(out[:, 0], [0.0, 0.5, 1.5, 2.0])
    np.testing.assert_allclose(out[:, 1], [10.0, 15.0, 25.0, 30.0])


def test_cli_writes_what_the_localization_dataset_reads(model, video, tmp_path):
    ckpt = tmp_path / "m.pth"
    torch.save({"state_dict": model.state_dict()}, ckpt)
    out, ann = tmp_path / "features", tmp_path / "anno.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "vidlab.cli.main",
            "extract-features",
            str(QUICKSTART),
            str(ckpt),
            str(video),
            "--out",
            str(out),
            "--window",
            "8",
            "--stride",
            "8",
            "--temporal-dim",
            "10",
            "--ann-out",
            str(ann),
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "features of 1 video(s)" in proc.stdout
    database = json.loads(ann.read_text())
    assert database["long_one"]["feature_frame"] == 48 and database["long_one"]["annotations"] == []
    database["long_one"]["annotations"] = [{"segment": [0.5, 2.4], "label": "grow"}]
    ann.write_text(json.dumps(database))
    ds = ActivityNetDataset(ann, [LoadLocalizationFeature()], data_prefix=str(out))
    assert ds[0]["raw_feature"].shape == (model.num_features, 10)


def test_localization_quickstart_runs_end_to_end(tmp_path, monkeypatch):
    """Shortened: 8 videos, the recognizer 1 epoch on 3 clips per class, BMN 2 epochs."""
    from vidlab.quickstart_localization import localization_quickstart

    monkeypatch.setenv("VIDLAB_CACHE", str(tmp_path / "cache"))
    tiny = [
        "synthetic_data.videos_per_class=3",
        "train_dataloader.batch_size=4",
        "train_dataloader.num_workers=0",
        "train_dataloader.persistent_workers=False",
        "val_dataloader.num_workers=0",
        "val_dataloader.persistent_workers=False",
        "test_dataloader.num_workers=0",
    ]
    summary = localization_quickstart(
        tmp_path / "work",
        cfg_options=[
            "train_cfg.max_epochs=2",
            "train_cfg.val_interval=2",
            "train_dataloader.batch_size=2",
        ],
        recognizer_epochs=1,
        videos=8,
        recognizer_options=tiny,
    )
    assert 0.0 <= summary["AR@100"] <= 1.0 and summary["AR@100"] >= summary["AR@1"]
    work = tmp_path / "work"
    assert json.loads((work / "summary.json").read_text())["task"] == "localization"
    val = json.loads((work / "val.json").read_text())
    assert len(val) == 2 and all(v["annotations"] for v in val.values())
    rows = np.loadtxt(work / "features" / f"{next(iter(val))}.csv", delimiter=",", skiprows=1)
    assert rows.shape == (32, 256)  # 32 snippets of the I3D quickstart's 256-d features
    preds = json.loads((work / "test_results.json").read_text())["predictions"]
    assert len(preds) == 2 and preds[0]["proposal_list"]
