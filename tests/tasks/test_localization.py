"""Temporal localization end to end: ActivityNet-format data, its pipeline, BMN, AR@AN.

The data are written here: feature CSVs whose snippets inside an action segment carry a
pattern the others lack, and MMAction2's annotation JSON. The config is laid out as
MMAction2's BMN config (same dataset, transforms, evaluator); the CLI trains and tests it.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vidlab.config import build
from vidlab.data.annotations import AnnotationError
from vidlab.data.localization import ActivityNetDataset
from vidlab.data.skipped import collate_skip_none
from vidlab.evaluation.anet import ANetMetric

T, C = 16, 8


def write_activitynet(root: Path, videos: int = 12, seed: int = 0) -> Path:
    """``videos`` feature CSVs and annotation JSON; each video has one or two segments."""
    rng = np.random.default_rng(seed)
    (root / "features").mkdir(parents=True, exist_ok=True)
    database = {}
    for v in range(videos):
        name = f"v_video{v:03d}"
        seconds, fps = float(rng.uniform(20, 60)), 30.0
        frames = int(seconds * fps)
        feats = rng.normal(0, 0.3, (T, C)).astype(np.float32)
        segments = []
        for _ in range(1 + v % 2):
            a = int(rng.integers(0, T - 4))
            b = int(rng.integers(a + 2, min(T, a + 8) + 1))
            feats[a:b, : C // 2] += 2.0
            feats[a, C // 2] += 3.0  # a start marker
            feats[b - 1, C // 2 + 1] += 3.0  # an end marker
            segments.append([a / T * seconds, b / T * seconds])
        np.savetxt(
            root / "features" / f"{name}.csv",
            feats,
            delimiter=",",
            header=",".join(f"f{i}" for i in range(C)),
            comments="",
        )
        database[name] = dict(
            duration_second=seconds,
            duration_frame=frames,
            feature_frame=frames,
            fps=fps,
            rfps=fps,
            annotations=[dict(segment=s, label="action") for s in segments],
        )
    (root / "anno.json").write_text(json.dumps(database))
    return root / "anno.json"


CONFIG = """
model = dict(type="BMN", temporal_dim={T}, boundary_ratio=0.5, num_samples=8,
             num_samples_per_bin=3, feat_dim={C}, soft_nms_alpha=0.4, soft_nms_low_threshold=0.5,
             soft_nms_high_threshold=0.9, post_process_top_k=100, hidden_dim_1d=32,
             hidden_dim_2d=16, hidden_dim_3d=32)
dataset_type = "ActivityNetDataset"
data_root = "{root}/features/"
ann_file = "{root}/anno.json"
train_pipeline = [
    dict(type="LoadLocalizationFeature"),
    dict(type="GenerateLocalizationLabels"),
    dict(type="PackLocalizationInputs", keys=("gt_bbox",), meta_keys=("video_name",)),
]
val_pipeline = [
    dict(type="LoadLocalizationFeature"),
    dict(type="GenerateLocalizationLabels"),
    dict(type="PackLocalizationInputs", keys=("gt_bbox",),
         meta_keys=("video_name", "duration_second", "duration_frame", "annotations",
                    "feature_frame")),
]
train_dataloader = dict(batch_size=4, num_workers=0, sampler=dict(type="DefaultSampler",
    shuffle=True), drop_last=True, dataset=dict(type=dataset_type, ann_file=ann_file,
    data_prefix=dict(video=data_root), pipeline=train_pipeline))
val_dataloader = dict(batch_size=1, num_workers=0, sampler=dict(type="DefaultSampler",
    shuffle=False), dataset=dict(type=dataset_type, ann_file=ann_file,
    data_prefix=dict(video=data_root), pipeline=val_pipeline, test_mode=True))
test_dataloader = val_dataloader
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=3, val_begin=1, val_interval=3)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")
optim_wrapper = dict(optimizer=dict(type="Adam", lr=0.001, weight_decay=0.0001),
                     clip_grad=dict(max_norm=40, norm_type=2))
param_scheduler = [dict(type="MultiStepLR", begin=0, end=3, by_epoch=True, milestones=[2],
                        gamma=0.1)]
default_hooks = dict(checkpoint=dict(type="CheckpointHook", interval=1, save_best="auto"))
val_evaluator = dict(type="ANetMetric", metric_type="AR@AN",
                     dump_config=dict(out="{root}/results.json", output_format="json"))
test_evaluator = val_evaluator
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("anet")
    write_activitynet(root)
    return root


def _dataset(root, **kw):
    from vidlab.data.localization import (
        GenerateLocalizationLabels,
        LoadLocalizationFeature,
        PackLocalizationInputs,
    )

    pipeline = [
        LoadLocalizationFeature(),
        GenerateLocalizationLabels(),
        PackLocalizationInputs(keys=("gt_bbox",), meta_keys=("video_name", "annotations")),
    ]
    return ActivityNetDataset(
        root / "anno.json", pipeline, data_prefix=dict(video=str(root / "features")), **kw
    )


def test_samples_and_batches(data):
    ds = _dataset(data)
    assert len(ds) == 12
    sample = ds[1]
    assert sample["inputs"].shape == (C, T) and sample["inputs"].dtype == torch.float32
    info = json.loads((data / "anno.json").read_text())["v_video001"]
    boxes = sample["gt_instances"]["gt_bbox"]
    assert boxes.shape == (2, 2) and boxes.dtype == torch.float64
    first = info["annotations"][0]["segment"]
    assert boxes[0].tolist() == pytest.approx(
        [first[0] / info["duration_second"], first[1] / info["duration_second"]]
    )
    batch = collate_skip_none([ds[0], ds[1]])
    assert batch["inputs"].shape == (2, C, T)
    # per-video lists, not stacked: the two videos have 1 and 2 segments
    assert [len(g["gt_bbox"]) for g in batch["gt_instances"]] == [1, 2]
    assert batch["meta"][1]["video_name"] == "v_video001"


def test_bad_annotations_name_the_video_and_field(tmp_path, data):
    db = json.loads((data / "anno.json").read_text())
    del db["v_video003"]["feature_frame"]
    db["v_video005"]["annotations"][0]["segment"] = [5.0]
    (tmp_path / "anno.json").write_text(json.dumps(db))
    with pytest.raises(AnnotationError) as e:
        ActivityNetDataset(tmp_path / "anno.json", [], data_prefix=str(data / "features"))
    assert "'v_video003': missing feature_frame" in str(e.value)
    assert "'v_video005': annotations[0] needs 'segment'" in str(e.value)


def test_a_missing_feature_file_names_the_video(tmp_path, data):
    ds = _dataset(data)
    os.rename(data / "features" / "v_video002.csv", tmp_path / "moved.csv")
    try:
        with pytest.raises(FileNotFoundError, match="v_video002.csv: feature file does not exist"):
            ds[2]
    finally:
        os.rename(tmp_path / "moved.csv", data / "features" / "v_video002.csv")


def test_ar_at_an_of_perfect_and_of_wrong_proposals():
    truth = [np.array([[10.0, 20.0]]), np.array([[0.0, 5.0], [30.0, 40.0]])]
    perfect = [
        dict(video_name="v_a", proposals=np.array([[10.0, 20.0, 0.9]])),
        dict(video_name="v_b", proposals=np.array([[0.0, 5.0, 0.9], [30.0, 40.0, 0.8]])),
    ]
    wrong = [
        dict(video_name="v_a", proposals=np.array([[50.0, 60.0, 0.9]])),
        dict(video_name="v_b", proposals=np.array([[50.0, 60.0, 0.9], [70.0, 80.0, 0.8]])),
    ]
    metric = ANetMetric(metric_type="AR@AN")
    assert metric.compute(perfect, truth)["AR@100"] == pytest.approx(1.0)
    assert metric.compute(wrong, truth)["AR@100"] == 0.0


def test_bmn_trains_and_tests_through_the_cli(data, tmp_path):
    cfg = tmp_path / "bmn_synthetic.py"
    cfg.write_text(CONFIG.format(T=T, C=C, root=data))
    model = build(
        dict(
            type="BMN",
            temporal_dim=T,
            boundary_ratio=0.5,
            num_samples=8,
            num_samples_per_bin=3,
            feat_dim=C,
            soft_nms_alpha=0.4,
            soft_nms_low_threshold=0.5,
            soft_nms_high_threshold=0.9,
            post_process_top_k=100,
        )
    )
    assert model.sample_mask.shape == (T, 8 * T * T)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    work = tmp_path / "work"
    cmd = [sys.executable, "-m", "vidlab.cli.main"]
    proc = subprocess.run(
        [*cmd, "train", str(cfg), "--work-dir", str(work)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = [json.loads(line) for line in (work / "log.jsonl").read_text().splitlines()]
    val = [r for r in log if r.get("mode") == "val"]
    assert val and 0.0 <= val[-1]["AR@100"] <= 1.0 and "auc" in val[-1]
    ckpt = sorted(work.glob("epoch_*.pth"))[-1]
    out = tmp_path / "preds.json"
    proc = subprocess.run(
        [*cmd, "test", str(cfg), str(ckpt), "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    preds = json.loads(out.read_text())
    assert len(preds["predictions"]) == 12 and "AR@100" in preds["metrics"]
    first = preds["predictions"][0]
    assert first["video_name"] == "v_video000" and first["proposal_list"]
    scores = [p["score"] for p in first["proposal_list"]]
    assert scores == sorted(scores, reverse=True)
    dumped = json.loads((data / "results.json").read_text())
    assert set(dumped["results"]) == {f"video{v:03d}" for v in range(12)}  # 'v_' stripped


BSN_COMMON = """
dataset_type = "ActivityNetDataset"
data_root = "{root}/features/"
ann_file_train = ann_file_val = ann_file_test = "{root}/anno.json"
work_dir = "{work}"
tem_results_dir = work_dir + "/tem_results/"
pgm_proposals_dir = work_dir + "/pgm_proposals/"
pgm_features_dir = work_dir + "/pgm_features/"
"""
TEM_CONFIG = (
    BSN_COMMON
    + """
model = dict(type="TEM", temporal_dim={T}, boundary_ratio=0.1, tem_feat_dim={C},
             tem_hidden_dim=16, tem_match_threshold=0.5)
train_pipeline = [dict(type="LoadLocalizationFeature"), dict(type="GenerateLocalizationLabels"),
                  dict(type="PackLocalizationInputs", keys=("gt_bbox",), meta_keys=("video_name",))]
test_pipeline = [dict(type="LoadLocalizationFeature"),
                 dict(type="PackLocalizationInputs", meta_keys=("video_name",))]
train_dataloader = dict(batch_size=4, num_workers=0, sampler=dict(type="DefaultSampler",
    shuffle=True), dataset=dict(type=dataset_type, ann_file=ann_file_train,
    data_prefix=dict(video=data_root), pipeline=train_pipeline))
test_dataloader = dict(batch_size=1, num_workers=0, sampler=dict(type="DefaultSampler",
    shuffle=False), dataset=dict(type=dataset_type, ann_file=ann_file_test,
    data_prefix=dict(video=data_root), pipeline=test_pipeline, test_mode=True))
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=2, val_interval=10)
test_cfg = dict(type="TestLoop")
optim_wrapper = dict(optimizer=dict(type="Adam", lr=0.001, weight_decay=0.0001))
test_evaluator = dict(type="ANetMetric", metric_type="TEM",
                      dump_config=dict(out=tem_results_dir, output_format="csv"))
"""
)
PGM_CONFIG = (
    BSN_COMMON
    + """
pgm_proposals_cfg = dict(pgm_proposals_thread=2, temporal_scale={T}, peak_threshold=0.5)
pgm_features_test_cfg = dict(pgm_features_thread=2, top_k=1000, num_sample_start=8,
    num_sample_end=8, num_sample_action=16, num_sample_interp=3, bsp_boundary_ratio=0.2)
pgm_features_train_cfg = dict(pgm_features_test_cfg, top_k=500)
"""
)
PEM_CONFIG = (
    BSN_COMMON
    + """
model = dict(type="PEM", pem_feat_dim=32, pem_hidden_dim=16, pem_u_ratio_m=1, pem_u_ratio_l=2,
             pem_high_temporal_iou_threshold=0.6, pem_low_temporal_iou_threshold=0.2,
             soft_nms_alpha=0.75, soft_nms_low_threshold=0.65, soft_nms_high_threshold=0.9,
             post_process_top_k=100)
train_pipeline = [dict(type="LoadProposals", top_k=500, pgm_proposals_dir=pgm_proposals_dir,
                       pgm_features_dir=pgm_features_dir),
                  dict(type="PackLocalizationInputs", keys=("reference_temporal_iou",
                       "bsp_feature"), meta_keys=())]
test_pipeline = [dict(type="LoadProposals", top_k=1000, pgm_proposals_dir=pgm_proposals_dir,
                      pgm_features_dir=pgm_features_dir),
                 dict(type="PackLocalizationInputs", keys=("tmin", "tmax", "tmin_score",
                      "tmax_score", "bsp_feature"), meta_keys=("video_name", "duration_second",
                      "duration_frame", "annotations", "feature_frame"))]
train_dataloader = dict(batch_size=4, num_workers=0, sampler=dict(type="DefaultSampler",
    shuffle=True), dataset=dict(type=dataset_type, ann_file=ann_file_train,
    data_prefix=dict(video=data_root), pipeline=train_pipeline))
test_dataloader = dict(batch_size=1, num_workers=0, sampler=dict(type="DefaultSampler",
    shuffle=False), dataset=dict(type=dataset_type, ann_file=ann_file_test,
    data_prefix=dict(video=data_root), pipeline=test_pipeline, test_mode=True))
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=2, val_interval=10)
test_cfg = dict(type="TestLoop")
optim_wrapper = dict(optimizer=dict(type="Adam", lr=0.01, weight_decay=0.00001))
test_evaluator = dict(type="ANetMetric", metric_type="AR@AN",
                      dump_config=dict(out=work_dir + "/results.json", output_format="json"))
"""
)


def test_bsn_three_stages_through_the_cli(data, tmp_path):
    """TEM train + test (its CSVs) -> PGM (proposals, features) -> PEM train + test (AR@AN)."""
    work = tmp_path / "bsn"
    configs = {}
    for name, text in (("tem", TEM_CONFIG), ("pgm", PGM_CONFIG), ("pem", PEM_CONFIG)):
        configs[name] = tmp_path / f"bsn_{name}.py"
        configs[name].write_text(text.format(T=T, C=C, root=data, work=work))
    env = dict(os.environ, PYTHONUNBUFFERED="1")

    def vidlab(*args):
        proc = subprocess.run(
            [sys.executable, "-m", "vidlab.cli.main", *map(str, args)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert proc.returncode == 0, f"vidlab {args[0]}: {proc.stderr[-3000:]}"
        return proc

    vidlab("train", configs["tem"], "--work-dir", work / "tem")
    vidlab("test", configs["tem"], work / "tem" / "epoch_2.pth")
    rows = np.loadtxt(work / "tem_results" / "v_video000.csv", delimiter=",", skiprows=1)
    assert rows.shape == (T, 5) and ((rows[:, :3] > 0) & (rows[:, :3] < 1)).all()
    assert (work / "tem_results" / "v_video000.csv").read_text().startswith("action,start,end")
    for mode in ("train", "test"):
        out = vidlab("localization", "pgm", configs["pgm"], "--mode", mode, "--workers", 1)
        assert "PGM (" + mode + "): 12 videos" in out.stdout
    props = np.loadtxt(work / "pgm_proposals" / "v_video000.csv", delimiter=",", skiprows=1)
    feats = np.load(work / "pgm_features" / "v_video000.npy")
    assert props.shape[1] == 7 and feats.shape == (len(props), 32)
    assert (np.diff(props[:, 4]) <= 0).all()  # best score first
    vidlab("train", configs["pem"], "--work-dir", work / "pem")
    out = tmp_path / "pem_preds.json"
    vidlab("test", configs["pem"], work / "pem" / "epoch_2.pth", "--out", out)
    metrics = json.loads(out.read_text())["metrics"]
    assert 0.0 <= metrics["AR@100"] <= 1.0 and metrics["AR@100"] >= metrics["AR@1"]
    assert set(json.loads((work / "results.json").read_text())["results"]) == {
        f"video{v:03d}" for v in range(12)
    }


def test_pgm_without_tem_results_says_what_to_run(data, tmp_path):
    cfg = tmp_path / "pgm.py"
    cfg.write_text(PGM_CONFIG.format(T=T, C=C, root=data, work=tmp_path / "none"))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "vidlab.cli.main",
            "localization",
            "pgm",
            str(cfg),
            "--workers",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "no TEM result; test the TEM config first" in proc.stderr


def test_class_agnostic_map_of_proposals():
    truth = [np.array([[10.0, 20.0]]), np.array([[0.0, 5.0]])]
    perfect = [
        dict(video_name="v_a", proposals=np.array([[10.0, 20.0, 0.9]])),
        dict(video_name="v_b", proposals=np.array([[0.0, 5.0, 0.8]])),
    ]
    metric = ANetMetric(metric_type="mAP")
    out = metric.compute(perfect, truth)
    assert out["mAP"] == pytest.approx(1.0) and out["mAP@0.50"] == pytest.approx(1.0)
    # a duplicate ranked first matches; the true one, second, finds its segment taken
    dup = [
        dict(video_name="v_a", proposals=np.array([[10.0, 19.0, 0.95], [10.0, 20.0, 0.9]])),
        dict(video_name="v_b", proposals=np.zeros((0, 3))),
    ]
    out = metric.compute(dup, truth)
    assert out["mAP@0.50"] == pytest.approx(0.5)  # recall 1/2 at precision 1
    # at 0.95 the first (IoU 0.9) misses and the second matches: precision 1/2 at recall 1/2
    assert out["mAP@0.95"] == pytest.approx(0.25)


TCANET_CONFIG = CONFIG.replace(
    'model = dict(type="BMN", temporal_dim={T}, boundary_ratio=0.5, num_samples=8,\n'
    "             num_samples_per_bin=3, feat_dim={C}, soft_nms_alpha=0.4, "
    "soft_nms_low_threshold=0.5,\n"
    "             soft_nms_high_threshold=0.9, post_process_top_k=100, hidden_dim_1d=32,\n"
    "             hidden_dim_2d=16, hidden_dim_3d=32)",
    'model = dict(type="TCANet", feat_dim={C}, se_sample_num=8, action_sample_num=16, '
    "temporal_dim={T}, lgte_num=1)",
).replace('keys=("gt_bbox",)', 'keys=("gt_bbox", "proposals")') + (
    'default_hooks = dict(checkpoint=dict(type="CheckpointHook", interval=1),\n'
    '                     logger=dict(type="LoggerHook", interval=1))\n'
)


def test_tcanet_refines_proposals_from_the_annotations(data, tmp_path):
    """MMAction2's TCANet reads each video's proposals from the annotation file."""
    assert "TCANet" in TCANET_CONFIG and TCANET_CONFIG.count('"proposals"') == 2
    rng = np.random.default_rng(1)
    db = json.loads((data / "anno.json").read_text())
    for info in db.values():  # noisy copies of the segments, relative, with scores
        segs = [np.array(a["segment"]) / info["duration_second"] for a in info["annotations"]]
        info["proposals"] = [
            [*(np.clip(s + rng.normal(0, 0.05, 2), 0, 1)).tolist(), float(rng.uniform(0.3, 1))]
            for s in segs
            for _ in range(3)
        ]
    root = tmp_path / "tca"
    (root).mkdir()
    (root / "features").symlink_to(data / "features")
    (root / "anno.json").write_text(json.dumps(db))
    cfg = tmp_path / "tcanet.py"
    cfg.write_text(TCANET_CONFIG.format(T=T, C=C, root=root))
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "vidlab.cli.main"]
    work = tmp_path / "work"
    proc = subprocess.run(
        [*cmd, "train", str(cfg), "--work-dir", str(work)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = [json.loads(line) for line in (work / "log.jsonl").read_text().splitlines()]
    train = [r for r in log if r.get("mode") == "train"]
    assert {"rloss1", "iloss3"} <= set(train[-1])  # each term logged
    val = [r for r in log if r.get("mode") == "val"]
    assert val and 0.0 <= val[-1]["AR@100"] <= 1.0
