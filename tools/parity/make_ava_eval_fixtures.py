"""Write MMAction2 1.2.0's AVA and MultiSports detection metrics as fixtures for vidlab's tests.

Run in the reference environment, from the repository root::

    ~/.cache/mmaction2-ref/venv/bin/python tools/parity/make_ava_eval_fixtures.py

A seeded synthetic set (several videos, many classes, ground truth with entity ids, labels
outside the label map, excluded frames, detections near and far from the ground truth with
tied scores, frames without ground truth, an empty frame) goes through MMAction2's own
``AVAMetric`` (its ``process`` and ``compute_metrics``, hence ``bbox2result``, ``results2csv``
and ``ava_eval``) for several settings (custom classes, single-label threshold, no exclusion
file); its numbers and its result csv are saved with the inputs in
``tests/fixtures/detection/ava_eval.pt``. Likewise MMAction2's ``MultiSportsMetric`` on a
synthetic MultiSports ground truth (tubes) in ``tests/fixtures/detection/multisports_eval.pt``.

numpy 2 removed ``np.NAN`` and ``np.trapz``, which MMAction2's evaluation code uses: the
shims below put them back, and its ``iou3dt_voc`` converts a one-element array with
``int()``, an error in numpy 2: a stand-in finds the same rows. ``ava_eval`` opens a pool
of 32 processes; a serial stand-in gives the same result without them.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

if not hasattr(np, "NAN"):
    np.NAN = np.nan
if not hasattr(np, "trapz"):
    np.trapz = np.trapezoid

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "detection"

LABEL_IDS = [1, 3, 5, 8, 11, 14, 15, 17, 20, 27, 30, 45, 59, 63, 64, 66, 70, 74, 79, 80]
VIDEOS = ["-5KQ66BBWC4", "1j20qq1JyX4", "_eBah6c5kyA", "zlVkeKC6Ha8"]


class _SerialPool:
    def __init__(self, *args, **kwargs):
        pass

    def map(self, fn, items):
        return [fn(x) for x in items]


def _untie(results: list, joint: bool = False) -> None:
    """Make the scores distinct at 4 decimals, keeping their order (within each class column,
    or with ``joint`` across all, which keeps each box's best class), so that no ranking
    depends on how ``np.argsort`` orders ties (which differs between CPUs' sort kernels)."""
    rng = np.random.default_rng(7)
    sizes = [len(r["scores"]) for r in results]
    scores = torch.cat([r["scores"] for r in results]).double().numpy()  # (n, K)
    groups = [np.ones(scores.shape, bool)] if joint else []
    if not joint:
        for c in range(scores.shape[1]):
            mask = np.zeros(scores.shape, bool)
            mask[:, c] = True
            groups.append(mask)
    for mask in groups:
        keep = mask & (scores > 0.0015)  # below: never kept by a threshold (0.001 ones)
        n = int(keep.sum())
        values = np.sort(rng.choice(np.arange(20, 10000), size=n, replace=False)) / 10000
        ranks = np.argsort(np.argsort(scores[keep], kind="stable"), kind="stable")
        scores[keep] = values[ranks]
    for r, part in zip(results, np.split(scores, np.cumsum(sizes)[:-1])):
        r["scores"] = torch.tensor(part, dtype=torch.float32)


def ava_inputs(seed: int = 0, tied: bool = True) -> dict:
    """Label map, ground truth, exclusions and per-frame detections (81 score columns);
    ``tied``: many scores equal at 4 decimals (their order, NumPy's, decides AP)."""
    rng = np.random.default_rng(seed)
    pbtxt = "".join(f'item {{\n  name: "action {i}"\n  id: {i}\n}}\n' for i in LABEL_IDS)
    gt_rows, frames = [], []
    for vid in VIDEOS:
        for ts in range(902, 914):
            persons = []
            for entity in range(int(rng.integers(0, 4))):
                x1, y1 = rng.uniform(0, 0.6, 2)
                w, h = rng.uniform(0.1, 0.4, 2)
                box = np.round([x1, y1, min(x1 + w, 1), min(y1 + h, 1)], 3)
                actions = rng.choice(LABEL_IDS + [2, 40, 77], size=int(rng.integers(1, 4)))
                for a in sorted(set(actions.tolist())):
                    gt_rows.append(
                        f"{vid},{ts:04d},{','.join(f'{v:.3f}' for v in box)},{a},{entity}"
                    )
                persons.append((box, set(actions.tolist())))
            if persons and rng.random() < 0.15:  # a second person on the same box
                box, acts = persons[0]
                a = sorted(acts)[0]
                gt_rows.append(f"{vid},{ts:04d},{','.join(f'{v:.3f}' for v in box)},{a},9")
            frames.append((vid, ts, persons))
    frames.append(("extra_video", 902, []))  # detections on a frame without ground truth
    excluded = [f"{VIDEOS[0]},0905", f"{VIDEOS[1]},0910", f"{VIDEOS[3]},0902"]
    results = []
    for vid, ts, persons in frames:
        boxes, scores = [], []
        for box, acts in persons:
            for _ in range(int(rng.integers(1, 3))):  # near-duplicates of the true box
                jitter = rng.normal(0, 0.03, 4)
                boxes.append(np.clip(box + jitter, 0, 1))
                s = rng.uniform(0, 0.3, 81)
                for a in acts:
                    s[a] = rng.uniform(0.2, 1.0)
                scores.append(s)
        for _ in range(int(rng.integers(0, 3))):  # false alarms
            x1, y1 = rng.uniform(0, 0.7, 2)
            boxes.append(np.array([x1, y1, x1 + 0.2, y1 + 0.25]))
            scores.append(rng.uniform(0, 0.5, 81))
        s = np.array(scores, dtype=np.float64).reshape(-1, 81)
        tie = rng.random(s.shape) < 0.4
        if tied:
            s[tie] = np.round(s[tie], 2)  # tied scores: their order decides AP
        s[rng.random(s.shape) < 0.2] = 0.001  # below action_thr
        if rng.random() < 0.05:  # a frame whose detector found nobody
            boxes, s = [], np.zeros((0, 81))
        results.append(
            dict(
                video_id=vid,
                timestamp=ts,
                bboxes=torch.tensor(np.array(boxes).reshape(-1, 4), dtype=torch.float32),
                scores=torch.tensor(s, dtype=torch.float32),
            )
        )
    results.append(
        dict(
            video_id=VIDEOS[2],
            timestamp=903,
            bboxes=torch.zeros(0, 4),
            scores=torch.zeros(0, 81),
        )
    )
    if not tied:
        _untie(results)
    return dict(
        labelmap=pbtxt,
        gt_csv="\n".join(gt_rows) + "\n",
        exclude_csv="\n".join(excluded) + "\n",
        results=results,
    )


AVA_CASES = {  # name -> (inputs, AVAMetric arguments beyond the files)
    "tied_default": ("tied", dict()),
    "tied_single_label": ("tied", dict(action_thr=-1.0)),
    "default": ("untied", dict()),
    "custom_classes": (
        "untied",
        dict(custom_classes=[1, 5, 11, 15, 20, 45, 63, 64, 70, 80], num_classes=11),
    ),
    "single_label": ("untied", dict(action_thr=-1.0)),
    "no_exclusions": ("untied", dict(exclude_file=None, action_thr=0.3)),
    "movement_only": ("untied", dict(custom_classes=[3, 8, 14], num_classes=4)),
}


def argsort_probes(seed: int = 3) -> list:
    """Arrays full of ties with their ``np.argsort`` here: a test on a machine whose NumPy
    orders ties otherwise (another CPU's sort kernel) knows MMAction2's tie-dependent numbers
    cannot be reproduced there (MMAction2's own would differ too)."""
    rng = np.random.default_rng(seed)
    arrays = [np.round(rng.random(n), 2).astype(np.float32) for n in (5, 40, 300, 3000)]
    arrays += [np.round(rng.random(n), 1) for n in (3, 9, 17, 200)]  # float64
    arrays += [np.full(n, 0.7) for n in range(1, 14)]  # all equal (MultiSports' linking)
    arrays += [-np.full(n, 0.3) for n in (5, 12)]
    return [dict(values=torch.from_numpy(a), order=torch.from_numpy(np.argsort(a))) for a in arrays]


def _ava_case(inputs: dict, kwargs: dict, tmp: str) -> dict:
    from mmaction.evaluation.functional import ava_utils
    from mmaction.evaluation.metrics import AVAMetric

    ava_utils.multiprocessing.Pool = _SerialPool
    files = {}
    for name, key in (
        ("labelmap.pbtxt", "labelmap"),
        ("gt.csv", "gt_csv"),
        ("ex.csv", "exclude_csv"),
    ):
        files[name] = os.path.join(tmp, name)
        Path(files[name]).write_text(inputs[key])
    kwargs = dict(kwargs)
    num_classes = kwargs.get("num_classes", 81)
    args = dict(
        ann_file=files["gt.csv"],
        exclude_file=files["ex.csv"],
        label_file=files["labelmap.pbtxt"],
    )
    args.update(kwargs)
    metric = AVAMetric(**args)
    samples = []
    for r in inputs["results"]:
        samples.append(
            dict(
                video_id=r["video_id"],
                timestamp=r["timestamp"],
                pred_instances=dict(bboxes=r["bboxes"], scores=r["scores"][:, :num_classes]),
            )
        )
    metric.process(None, samples)
    from mmaction.evaluation import results2csv

    csv_path = os.path.join(tmp, "results.csv")
    results2csv(metric.results, csv_path, metric.custom_classes)
    out = metric.compute_metrics(metric.results)
    text = Path(csv_path).read_text()
    return dict(
        kwargs=kwargs,
        metrics={k: float(v) for k, v in out.items()},
        results_csv_sha256=hashlib.sha256(text.encode()).hexdigest(),
        results_csv=text if len(text) < 100_000 else None,  # the large one by its hash only
    )


def make_ava() -> None:
    inputs = {"tied": ava_inputs(tied=True), "untied": ava_inputs(tied=False)}
    cases = {}
    with tempfile.TemporaryDirectory() as tmp:
        cwd = os.getcwd()
        os.chdir(tmp)  # AVAMetric writes its temporary csv into the working directory
        try:
            for name, (which, kwargs) in AVA_CASES.items():
                cases[name] = _ava_case(inputs[which], kwargs, tmp)
                cases[name]["inputs"] = which
                print(name, cases[name]["metrics"])
        finally:
            os.chdir(cwd)
    for variant in inputs.values():
        variant["results"] = [
            dict(r, bboxes=r["bboxes"].clone(), scores=r["scores"].clone())
            for r in variant["results"]
        ]
    OUT.mkdir(parents=True, exist_ok=True)
    torch.save(
        dict(inputs=inputs, cases=cases, argsort_probes=argsort_probes()), OUT / "ava_eval.pt"
    )


MS_LABELS = [
    "football pass",
    "basketball save",  # never evaluated by MMAction2
    "football shoot",
    "volleyball spike",
    "aerobic kick jump",  # never evaluated by MMAction2
    "gymnastics jump",
    "basketball dribble",
    "volleyball block",
]
MS_VIDEOS = ["v_football_a", "v_basket_b", "v_volley_c"]


def multisports_inputs(seed: int = 1, tied: bool = True) -> dict:
    """MultiSports' ground-truth pickle (tubes) and per-frame detections (no background);
    ``tied``: many scores equal."""
    rng = np.random.default_rng(seed)
    nframes = {v: int(rng.integers(40, 60)) for v in MS_VIDEOS}
    resolution = {v: (720, 1280) for v in MS_VIDEOS}
    gttubes, truth = {}, {}  # truth: (video, frame) -> [(label, box)]
    for v in MS_VIDEOS:
        gttubes[v] = {}
        for label in rng.choice(len(MS_LABELS), size=3, replace=False).tolist():
            tubes = []
            for _ in range(int(rng.integers(1, 3))):
                length = int(rng.integers(8, 35))
                start = int(rng.integers(1, nframes[v] - length + 2))
                frames = np.arange(start, start + length)
                x0, y0 = rng.uniform(0, 900), rng.uniform(0, 400)
                vx, vy = rng.normal(0, 4, 2)
                w, h = rng.uniform(80, 300), rng.uniform(150, 300)
                x1 = x0 + vx * (frames - start)
                y1 = y0 + vy * (frames - start)
                tube = np.stack([frames, x1, y1, x1 + w, y1 + h], axis=1).astype(np.float32)
                tubes.append(tube)
                for row in tube:
                    truth.setdefault((v, int(row[0])), []).append((label, row[1:5]))
            gttubes[v][label] = tubes
    annos = dict(
        labels=MS_LABELS,
        train_videos=[["v_train"]],
        test_videos=[MS_VIDEOS],
        nframes=nframes,
        resolution=resolution,
        gttubes=gttubes,
    )
    results = []
    scale = np.array([1280, 720, 1280, 720], dtype=np.float64)
    for v in MS_VIDEOS:
        for frame in range(1, nframes[v] + 1):
            boxes, scores = [], []
            for label, box in truth.get((v, frame), []):
                if rng.random() < 0.04:
                    continue  # missed
                for _ in range(int(rng.integers(1, 3))):
                    boxes.append(np.clip((box + rng.normal(0, 8, 4)) / scale, 0, 1))
                    s = rng.uniform(0, 0.3, len(MS_LABELS))
                    hit = label if rng.random() < 0.8 else int(rng.integers(len(MS_LABELS)))
                    s[hit] = rng.uniform(0.3, 1.0)
                    scores.append(s)
            for _ in range(int(rng.integers(0, 2))):  # false alarms
                x1, y1 = rng.uniform(0, 0.7, 2)
                boxes.append(np.array([x1, y1, x1 + 0.1, y1 + 0.3]))
                scores.append(rng.uniform(0, 0.6, len(MS_LABELS)))
            s = np.array(scores, dtype=np.float64).reshape(-1, len(MS_LABELS))
            tie = rng.random(s.shape) < 0.3
            if tied:
                s[tie] = np.round(s[tie], 2)
            results.append(
                dict(
                    video_id=v + ".mp4",
                    timestamp=frame,
                    bboxes=torch.tensor(np.array(boxes).reshape(-1, 4), dtype=torch.float32),
                    scores=torch.tensor(s, dtype=torch.float32),
                )
            )
    if not tied:  # every score distinct: the best class's decides all rankings
        _untie(results, joint=True)
    return dict(annos=annos, results=results)


MS_CASES = {  # name -> (inputs, MultiSportsMetric arguments, MMAction2's tube-score slip fixed)
    # MMAction2's slip gives every linked box one score: linking then follows np.argsort's ties
    "tied_default": ("tied", dict(), False),
    "tied_other_thresholds": (
        "tied",
        dict(
            metric_options=dict(
                F_mAP=dict(thr=0.8), V_mAP=dict(thr=(0.1, 0.3, 0.5), all=True, tube_thr=5)
            )
        ),
        False,
    ),
    "own_tube_scores": (
        "untied",
        dict(
            metric_options=dict(
                F_mAP=dict(thr=0.5), V_mAP=dict(thr=(0.2, 0.5), all=True, tube_thr=5)
            )
        ),
        True,
    ),
    "own_tube_scores_defaults": ("untied", dict(), True),
}


def _get_vid_dets_fixed(self):
    """MMAction2's ``Dataset.get_vid_dets`` with each box's own score (its code gives every
    box the score of the last detection: ``frm_det[3]`` where ``frm_dets[3]`` was meant)."""
    from collections import defaultdict

    self.vid_frm_det = defaultdict(list)
    for frm_det in self.frm_alldets:
        self.vid_frm_det[self.video_list[int(frm_det[0])]].append(frm_det)
    self.vid_det = dict()
    for vid_name, vid_frm_dets in self.vid_frm_det.items():
        self.vid_det[vid_name] = {
            f: {k: np.empty(shape=(0, 5)) for k in range(len(self.labels))}
            for f in range(1, self.nframes[vid_name] + 1)
        }
        for frm_dets in vid_frm_dets:
            det = np.array([*frm_dets[-4:], frm_dets[3]])[None, :]
            cell = self.vid_det[vid_name][int(frm_dets[1])]
            cell[int(frm_dets[2])] = np.concatenate([cell[int(frm_dets[2])], det])
    return self.vid_det


def _iou3dt_numpy2(b1, b2, spatialonly=False, temporalonly=False):
    """MMAction2's ``iou3dt_voc`` for numpy 2, where ``int()`` of a one-element 1-d array (its
    way to find a frame's row) is an error: the same rows, found with ``[0][0]``."""
    from mmaction.evaluation.functional.multisports_utils import iou3d_voc

    tmin = max(b1[0, 0], b2[0, 0])
    tmax = min(b1[-1, 0], b2[-1, 0])
    if tmax < tmin:
        return 0.0
    temporal_inter = tmax - tmin
    temporal_union = max(b1[-1, 0], b2[-1, 0]) - min(b1[0, 0], b2[0, 0])

    def rows(b):
        return b[np.where(b[:, 0] == tmin)[0][0] : np.where(b[:, 0] == tmax)[0][0] + 1, :]

    if temporalonly:
        return temporal_inter / temporal_union
    ratio = 1.0 if spatialonly else temporal_inter / temporal_union
    return iou3d_voc(rows(b1), rows(b2)) * ratio


def make_multisports() -> None:
    import pickle

    from mmaction.evaluation.functional import multisports_utils
    from mmaction.evaluation.metrics import MultiSportsMetric

    multisports_utils.iou3dt_voc = _iou3dt_numpy2
    inputs = {"tied": multisports_inputs(tied=True), "untied": multisports_inputs(tied=False)}
    blob = pickle.dumps(inputs["tied"]["annos"])
    assert blob == pickle.dumps(inputs["untied"]["annos"])  # one ground truth
    original = multisports_utils.Dataset.get_vid_dets
    cases = {}
    with tempfile.TemporaryDirectory() as tmp:
        gt_file = os.path.join(tmp, "multisports_GT.pkl")
        Path(gt_file).write_bytes(blob)
        for name, (which, kwargs, fixed) in MS_CASES.items():
            multisports_utils.Dataset.get_vid_dets = _get_vid_dets_fixed if fixed else original
            metric = MultiSportsMetric(ann_file=gt_file, verbose=False, **kwargs)
            samples = [
                dict(
                    video_id=r["video_id"],
                    timestamp=r["timestamp"],
                    pred_instances=dict(bboxes=r["bboxes"].clone(), scores=r["scores"]),
                )
                for r in inputs[which]["results"]
            ]
            metric.process(None, samples)
            out = metric.compute_metrics(metric.results)
            cases[name] = dict(
                inputs=which,
                kwargs=dict(kwargs, own_tube_scores=fixed),
                metrics={k: float(v) for k, v in out.items()},
            )
            print(name, cases[name]["metrics"])
    multisports_utils.Dataset.get_vid_dets = original
    OUT.mkdir(parents=True, exist_ok=True)
    torch.save(
        dict(
            gt_pickle=blob,
            results={k: v["results"] for k, v in inputs.items()},
            cases=cases,
            argsort_probes=argsort_probes(),
        ),
        OUT / "multisports_eval.pt",
    )


if __name__ == "__main__":
    multiprocessing.set_start_method("fork", force=True)
    which = sys.argv[1:] or ["ava", "multisports"]
    if "ava" in which:
        make_ava()
    if "multisports" in which:
        make_multisports()
