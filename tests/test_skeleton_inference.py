"""Skeleton samples through inference (``vidlab infer`` on a pickle) and into an MP4."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from vidlab.checkpoint import save_checkpoint
from vidlab.data.skeleton.render import draw_skeletons, render_skeleton
from vidlab.data.skeleton.synthetic import write_synthetic_skeletons
from vidlab.inference import inference_recognizer, init_recognizer, skeleton_record

PIPELINE = [
    dict(type="PreNormalize2D"),
    dict(type="GenSkeFeat", dataset="coco", feats=["j"]),
    dict(type="UniformSampleFrames", clip_len=16, num_clips=3, test_mode=True),
    dict(type="PoseDecode"),
    dict(type="FormatGCNInput", num_person=2),
    dict(type="PackActionInputs"),
]
CONFIG = dict(
    model=dict(
        type="RecognizerGCN",
        backbone=dict(
            type="STGCN",
            graph_cfg=dict(layout="coco", mode="spatial"),
            base_channels=8,
            num_stages=4,
            inflate_stages=[3],
            down_stages=[3],
            gcn_adaptive="init",
            gcn_with_res=True,
            tcn_type="mstcn",
        ),
        cls_head=dict(type="GCNHead", num_classes=8, in_channels=16),
    ),
    test_dataloader=dict(dataset=dict(type="PoseDataset", ann_file="", pipeline=PIPELINE)),
)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_synthetic_skeletons(
        tmp_path_factory.mktemp("skel") / "s.pkl", num_train=0, num_val=0, num_test=1
    )


def test_infer_a_pickle_sample_averages_its_clips(data):
    torch.manual_seed(0)
    model = init_recognizer(CONFIG)
    top = inference_recognizer(model, f"{data}:synth_squat_test_0000", labels=None, top_k=5)
    assert len(top) == 5 and all(0 <= s <= 1 for _, s in top)  # 'prob': mean of softmax
    record = skeleton_record(data, "synth_squat_test_0000")
    assert record["label"] == 2 and record["modality"] == "Pose"
    # the same sample by record and by index: same scores
    assert inference_recognizer(model, record, top_k=5) == top
    first = skeleton_record(data)  # no sample named: the first record
    assert first["frame_dir"] == "synth_wave_test_0000"
    with pytest.raises(KeyError, match="no skeleton sample with frame_dir 'nope'"):
        skeleton_record(data, "nope")


def test_cli_infer_prints_top5_for_a_skeleton_pickle(data, tmp_path):
    from vidlab.config import Config

    torch.manual_seed(0)
    model = init_recognizer(CONFIG)
    ckpt = tmp_path / "gcn.pth"
    save_checkpoint(ckpt, {"state_dict": model.state_dict()})
    cfg_file = tmp_path / "gcn.py"
    Config(CONFIG).dump(cfg_file)
    proc = subprocess.run(
        [sys.executable, "-m", "vidlab.cli.main", "infer", str(cfg_file), str(ckpt), str(data)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()[:2] in ("1.", "5.")]
    assert len(lines) == 2  # ranks 1 and 5 of the top-5


def test_render_skeleton_to_mp4(data, tmp_path):
    av = pytest.importorskip("av")
    record = skeleton_record(data, "synth_jump_test_0000")
    frames = draw_skeletons(record["keypoint"], record["img_shape"], record["keypoint_score"])
    t = record["keypoint"].shape[1]
    assert frames.shape == (t, 192, 256, 3) and frames.dtype == np.uint8  # 480x640 -> 256 wide
    assert (frames.reshape(t, -1, 3).max(1) == 255).all()  # every frame shows joints
    path = render_skeleton(record, tmp_path / "jump.mp4")
    with av.open(str(path)) as container:
        decoded = sum(1 for _ in container.decode(video=0))
    assert decoded == t
    with pytest.raises(ValueError, match="17 joints but layout 'nturgb\\+d' has 25"):
        draw_skeletons(record["keypoint"], record["img_shape"], layout="nturgb+d")


def test_quickstart_skeleton_runs_end_to_end(tmp_path):
    # shortened: a narrow ST-GCN++, 2 samples per class, 2 epochs; the whole job otherwise
    import json
    import os

    work = tmp_path / "skeleton"
    tiny = [
        "synthetic_skeletons.num_train=2",
        "synthetic_skeletons.num_val=1",
        "synthetic_skeletons.num_test=1",
        "model.backbone.base_channels=8",
        "model.cls_head.in_channels=32",
        "train_cfg.max_epochs=2",
        "train_cfg.val_interval=1",
        "param_scheduler.1.T_max=1",
        "param_scheduler.1.end=2",
        "train_dataloader.batch_size=4",
        "train_dataloader.num_workers=0",
        "train_dataloader.persistent_workers=False",
        "val_dataloader.num_workers=0",
        "val_dataloader.persistent_workers=False",
        "test_dataloader.num_workers=0",
    ]
    env = dict(os.environ, VIDLAB_CACHE=str(tmp_path / "cache"), PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        [sys.executable, "-m", "vidlab.cli.main", "quickstart", "--task", "skeleton"]
        + ["--work-dir", str(work), "--cfg-options", *tiny],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((work / "summary.json").read_text())
    assert summary["task"] == "skeleton" and 0.0 <= summary["top1"] <= 1.0
    assert len(summary["inference"]["top5"]) == 5
    assert ":synth_wave_test_" in summary["inference"]["sample"]  # the first test sample
    if summary["rendering"]:  # PyAV present
        assert (work / "sample.mp4").stat().st_size > 0
    assert "type='STGCN'" in (work / "config.py").read_text()


def test_quickstart_cpu_threads_yields_to_the_user(monkeypatch):
    """The skeleton quickstart's config sets 1 intra-op thread; OMP_NUM_THREADS overrides it."""
    from vidlab.config import load_config
    from vidlab.quickstart import SKELETON_CONFIG, _set_cpu_threads

    assert load_config(SKELETON_CONFIG).cpu_threads == 1
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
        torch.set_num_threads(2)
        assert _set_cpu_threads(1) == 1 and torch.get_num_threads() == 1
        assert _set_cpu_threads(None) is None and torch.get_num_threads() == 1
        monkeypatch.setenv("OMP_NUM_THREADS", "2")
        torch.set_num_threads(2)
        assert _set_cpu_threads(1) is None and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_quickstart_data_file_is_named_by_all_its_arguments(tmp_path):
    """A pickle written with other arguments (e.g. another missing-joint rate) is not reused."""
    from vidlab.config import load_config
    from vidlab.quickstart import SKELETON_CONFIG, prepare_synthetic_skeletons

    tiny = {
        "data_root": str(tmp_path),
        "synthetic_skeletons": dict(num_train=1, num_val=0, num_test=1, seed=0),
    }
    paths = []
    for missing in (0.0, 0.2):
        cfg = load_config(SKELETON_CONFIG, tiny)
        cfg.synthetic_skeletons["missing"] = missing
        paths.append(prepare_synthetic_skeletons(cfg))
        assert cfg.test_dataloader.dataset.ann_file == str(paths[-1])
    assert [p.name for p in paths] == [
        "synthetic_skeletons_1-0-1_s0_missing0.0.pkl",
        "synthetic_skeletons_1-0-1_s0_missing0.2.pkl",
    ]
    assert (skeleton_record(paths[0], 0)["keypoint_score"] > 0).all()
    assert (skeleton_record(paths[1], 0)["keypoint_score"] == 0).any()
