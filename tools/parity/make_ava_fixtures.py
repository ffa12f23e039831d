"""Record MMAction2's AVA data: dataset records and whole train/test pipelines (issue 13).

Run with the MMAction2 1.2.0 reference python from the repository root:

    ~/.cache/mmaction2-ref/venv/bin/python tools/parity/make_ava_fixtures.py

Writes a tiny AVA-format set under tests/fixtures/detection/ava/ (annotation csv, excluded
timestamps, label map pbtxt, proposals pickle, small JPEG frame folders), then records with
MMAction2's own classes:

- the records of ``AVADataset`` / ``AVAKineticsDataset`` (``load_data_list`` after the
  exclusions) and the proposals/scores their ``get_data_info`` adds, for several argument sets;
- the train and val pipelines of two real configs (AVA and AVA-Kinetics, SlowOnly 4x16) run on
  every sample with ``np.random.seed(seed)``: frame indices, boxes, shapes, and a hash of the
  packed clip's pixels.

into tests/fixtures/detection/ava_mmaction2.pt, checked by tests/data/test_ava_parity.py.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

import cv2
import numpy as np
import torch

OUT = Path("tests/fixtures/detection")
DATA = OUT / "ava"
CONFIGS = Path(
    os.path.dirname(__import__("mmaction").__file__), ".mim", "configs", "detection", "slowonly"
)
AVA_CONFIG = "slowonly_kinetics400-pretrained-r50_8xb16-4x16x1-20e_ava21-rgb.py"
AVAK_CONFIG = "slowonly_k400-pre-r50_8xb8-4x16x1-10e_ava-kinetics-rgb.py"

# video id -> (number of frames, width, height)
VIDEOS = {
    "vid_a000001": (140, 40, 30),
    "vid_b000002": (100, 30, 40),
    "kin_clip001_000010_000020": (64, 40, 24),
}

ANN = """\
vid_a000001,0902,0.1,0.2,0.5,0.9,12,0
vid_a000001,0902,0.1,0.2,0.5,0.9,17,0
vid_a000001,0902,0.55,0.1,1.0,0.8,80,1
vid_a000001,0901,0.0,0.0,1.0,1.0,1,2
vid_a000001,0903,0.2,0.3,0.6,0.7,3,0
vid_a000001,0903,0.25,0.35,0.65,0.75,3,1
vid_b000002,0902,0.3,0.1,0.7,0.95,14,0
vid_b000002,0903,0.3,0.1,0.7,0.95,14,0
vid_b000002,0901,0.0,0.5,0.4,1.0,11,3
vid_a000001,0902,0.1,0.2,0.5,0.9,79,0
"""
# AVA-Kinetics: an AVA movie and a Kinetics clip; the last row is the AVA movie's
ANN_AVAK = """\
kin_clip001_000010_000020,0011,0.1,0.1,0.6,0.9,12,0
kin_clip001_000010_000020,0011,0.5,0.2,0.9,0.8,17,1
vid_a000001,0902,0.1,0.2,0.5,0.9,12,0
"""
EXCLUDE = "vid_b000002,0903\n"
LABELMAP = "".join(
    f'item {{\n  name: "action {i}"\n  id: {i}\n}}\n' for i in (1, 3, 11, 12, 14, 17, 79, 80)
)


def _proposals() -> dict:
    return {
        "vid_a000001,0902": np.array(
            [
                [0.11, 0.19, 0.52, 0.88, 0.99],
                [0.0, 0.0, 0.3, 0.3, 0.5],
                [0.56, 0.12, 0.97, 0.81, 0.95],
                [0.2, 0.2, 0.4, 0.4, 0.92],
            ]
        ),
        "vid_a000001,0901": np.array([[0.1, 0.1, 0.9, 0.9, 0.3], [0.0, 0.05, 0.95, 1.0, 0.6]]),
        "vid_a000001,0903": np.array([[0.2, 0.3, 0.6, 0.7], [0.24, 0.36, 0.66, 0.74]]),
        "vid_b000002,0901": np.array([[0.01, 0.5, 0.41, 0.99, 0.97]]),
        # vid_b000002,0902 has none: MMAction2 uses the whole frame
        "kin_clip001,0011": np.array([[0.1, 0.1, 0.6, 0.9, 0.98], [0.5, 0.2, 0.9, 0.8, 0.2]]),
    }


def write_data() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    (DATA / "ann.csv").write_text(ANN)
    (DATA / "ann_avak.csv").write_text(ANN_AVAK)
    (DATA / "exclude.csv").write_text(EXCLUDE)
    (DATA / "labelmap.pbtxt").write_text(LABELMAP)
    with open(DATA / "proposals.pkl", "wb") as f:
        pickle.dump(_proposals(), f)
    rng = np.random.default_rng(0)
    for vid, (n, w, h) in VIDEOS.items():
        folder = DATA / "frames" / vid
        folder.mkdir(parents=True, exist_ok=True)
        yy, xx = np.mgrid[0:h, 0:w]
        for i in range(1, n + 1):
            img = np.stack(
                [(xx * 6 + i * 3) % 256, (yy * 6 + i * 5) % 256, ((xx + yy) * 4 + i) % 256], -1
            )
            img = np.clip(img + rng.integers(0, 20, img.shape), 0, 255).astype(np.uint8)
            cv2.imwrite(str(folder / f"img_{i:05d}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 85])


# dataset argument sets (paths relative to DATA: the test runs there too)
CASES = {
    "ava": dict(
        type="AVADataset",
        ann_file="ann.csv",
        exclude_file="exclude.csv",
        label_file="labelmap.pbtxt",
        proposal_file="proposals.pkl",
        data_prefix=dict(img="frames"),
    ),
    "ava_max2_thr05": dict(
        type="AVADataset",
        ann_file="ann.csv",
        proposal_file="proposals.pkl",
        data_prefix=dict(img="frames"),
        person_det_score_thr=0.5,
        num_max_proposals=2,
        test_mode=True,
    ),
    "ava_custom": dict(
        type="AVADataset",
        ann_file="ann.csv",
        exclude_file="exclude.csv",
        label_file="labelmap.pbtxt",
        proposal_file="proposals.pkl",
        data_prefix=dict(img="frames"),
        custom_classes=[3, 12, 80],
        num_classes=4,
    ),
    "ava_videos_fps1": dict(
        type="AVADataset",
        ann_file="ann.csv",
        data_prefix=dict(img="videos"),
        timestamp_start=1,
        start_index=0,
        use_frames=False,
        fps=1,
        num_classes=81,
    ),
    "avak": dict(
        type="AVAKineticsDataset",
        ann_file="ann_avak.csv",
        exclude_file="exclude.csv",
        label_file="labelmap.pbtxt",
        proposal_file="proposals.pkl",
        data_prefix=dict(img="frames"),
    ),
}

PIPELINES = {  # name -> (config, dataset case, which pipeline, seeds per sample)
    "ava_train": (AVA_CONFIG, "ava", "train_pipeline", (0, 1, 2)),
    "ava_val": (AVA_CONFIG, "ava", "val_pipeline", (0,)),
    "avak_train": (AVAK_CONFIG, "avak", "train_pipeline", (3, 4)),
    "avak_val": (AVAK_CONFIG, "avak", "val_pipeline", (0,)),
}


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a


def _sha(a) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]


def _record(rec: dict) -> dict:
    out = {k: v for k, v in rec.items() if k != "ann"}
    out.update({k: _t(v) for k, v in rec["ann"].items()})
    return {k: _t(v) for k, v in out.items()}


def records(datasets) -> dict:
    out = {}
    for name, cfg in CASES.items():
        ds = datasets[name]
        infos = []
        for i in range(len(ds)):
            info = ds.get_data_info(i)
            infos.append({k: _t(info[k]) for k in ("proposals", "scores") if k in info})
        out[name] = dict(
            kwargs={k: v for k, v in cfg.items() if k != "type"},
            type=cfg["type"],
            records=[_record(r) for r in ds.data_list],
            infos=infos,
        )
    return out


def pipelines(datasets) -> dict:
    from mmengine.config import Config
    from mmengine.dataset import Compose

    out = {}
    for name, (config, case, key, seeds) in PIPELINES.items():
        cfg = Config.fromfile(str(CONFIGS / config))
        steps = list(cfg[key])
        prepare, pack = Compose(steps[:-1]), Compose(steps[-1:])
        ds = datasets[case]
        samples = []
        for idx in range(len(ds)):
            for seed in seeds:
                np.random.seed(seed)
                results = prepare(ds.get_data_info(idx))
                packed = pack(dict(results))
                sample = packed["data_samples"]
                samples.append(
                    dict(
                        idx=idx,
                        seed=seed,
                        frame_inds=_t(results["frame_inds"]),
                        img_shape=tuple(results["img_shape"]),
                        scale_factor=_t(results["scale_factor"]),
                        crop_bbox=_t(results.get("crop_bbox")),
                        flip=bool(results.get("flip", False)),
                        inputs_shape=tuple(packed["inputs"].shape),
                        inputs_sha=_sha(packed["inputs"].numpy()),
                        bboxes=sample.gt_instances.bboxes,
                        labels=sample.gt_instances.labels,
                        proposals=sample.proposals.bboxes,
                        meta=dict(sample.metainfo),
                    )
                )
        plain = [
            {k: (tuple(v) if isinstance(v, list) else v) for k, v in st.items()} for st in steps
        ]
        out[name] = dict(config=config, dataset=case, pipeline=key, steps=plain, samples=samples)
    return out


def main() -> None:
    from mmaction.registry import DATASETS
    from mmaction.utils import register_all_modules

    register_all_modules()
    write_data()
    here = os.getcwd()
    os.chdir(DATA)
    try:
        datasets = {
            name: DATASETS.build(dict(cfg, pipeline=[], serialize_data=False))
            for name, cfg in CASES.items()
        }
        fixture = dict(cases=records(datasets), pipelines=pipelines(datasets))
    finally:
        os.chdir(here)
    torch.save(fixture, OUT / "ava_mmaction2.pt")
    n = sum(len(p["samples"]) for p in fixture["pipelines"].values())
    print(f"wrote {OUT / 'ava_mmaction2.pt'}: {len(CASES)} dataset cases, {n} pipeline runs")


if __name__ == "__main__":
    main()
