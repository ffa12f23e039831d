"""Converters to MMAction2's skeleton pickle (``vidlab data skeleton ...``).

Three sources, read with the standard library (no ``xtcocotools``, no ``pycocotools``):

- **MMPose inference output** (JSON): ``MMPoseInferencer(pred_out_dir=...)``'s per-video file, a
  list of ``{"frame_id", "instances": [{"keypoints": [[x, y], ...], "keypoint_scores": [...],
  ...}]}``, or ``{"meta_info": ..., "instance_info": [...]}`` of MMPose's demo scripts
  (``--save-predictions``). One file is one sample (named by the file).
- **COCO keypoint annotations** (JSON): ``images`` / ``annotations`` with ``keypoints`` as
  ``[x, y, v] * V``. Images that carry ``vid_id`` (PoseTrack) are frames of that video,
  ordered by ``frame_id`` (else ``id``), persons by ``track_id``; other images are one-frame
  samples. ``v == 0`` (not labelled) becomes coordinates 0 and score 0; else score 1.
- **OpenPose** per-frame JSON folders (``<name>_<frame>_keypoints.json`` with ``people`` /
  ``pose_keypoints_2d``): one folder is one sample. BODY_25 is reduced to the 18 joints of
  OpenPose-18; ``layout='coco'`` reorders to COCO-17.

Persons without identities are linked across frames by :func:`track_persons` (greedy nearest
joints), and ordered by their total score (MMAction2's pipelines keep the first
``num_person``).
"""

from __future__ import annotations

import glob
import json
import os
import pickle
import re

import numpy as np

__all__ = [
    "OPENPOSE_TO_COCO",
    "BODY25_TO_OPENPOSE",
    "convert_coco",
    "convert_mmpose",
    "convert_openpose",
    "read_labels",
    "track_persons",
    "write_pose_pickle",
]

# COCO-17 joint i is OpenPose-18 joint OPENPOSE_TO_COCO[i]
OPENPOSE_TO_COCO = (0, 15, 14, 17, 16, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10)
# OpenPose-18 joint i is BODY_25 joint BODY25_TO_OPENPOSE[i] (BODY_25 adds the mid-hip and feet)
BODY25_TO_OPENPOSE = (0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)


class ConvertError(ValueError):
    """A source file that is not in the expected format (the message names the file)."""


def track_persons(
    frames: list[list[tuple[np.ndarray, np.ndarray]]], max_persons: int | None = None
):
    """Link the persons of consecutive frames into tracks.

    Args:
        frames: per frame, the persons as ``(keypoint (V, 2), score (V,))``.
        max_persons: keep this many tracks (the highest total scores); None: all.

    Returns:
        ``keypoint`` ``(M, T, V, 2)`` and ``keypoint_score`` ``(M, T, V)`` (float32), tracks
        ordered by total score; frames where a track is absent are 0.

    Each person joins the track whose last position (mean of the joints both see) is nearest,
    within half the person's size; otherwise it starts a new track.
    """
    v = next((len(p[0]) for f in frames for p in f), 0)
    tracks: list[dict] = []  # {"kp": {t: kp}, "sc": {t: sc}, "last": (kp, sc)}
    for t, persons in enumerate(frames):
        pairs = []
        for i, (kp, sc) in enumerate(persons):
            for j, tr in enumerate(tracks):
                lkp, lsc = tr["last"]
                both = (sc > 0) & (lsc > 0)
                if not both.any() or tr["t"] == t:
                    continue
                dist = np.linalg.norm(kp[both] - lkp[both], axis=-1).mean()
                seen = kp[sc > 0]
                size = np.ptp(seen, axis=0).max() if len(seen) > 1 else 0.0
                if dist <= max(0.5 * size, 1e-6) and t - tr["t"] <= 5:
                    pairs.append((dist, i, j))
        used_p, used_t = set(), set()
        for _, i, j in sorted(pairs):
            if i in used_p or j in used_t:
                continue
            used_p.add(i)
            used_t.add(j)
            kp, sc = persons[i]
            tracks[j]["kp"][t], tracks[j]["sc"][t] = kp, sc
            tracks[j]["last"], tracks[j]["t"] = (kp, sc), t
        for i, (kp, sc) in enumerate(persons):
            if i not in used_p:
                tracks.append({"kp": {t: kp}, "sc": {t: sc}, "last": (kp, sc), "t": t})
    tracks.sort(key=lambda tr: -sum(float(s.sum()) for s in tr["sc"].values()))
    if max_persons is not None:
        tracks = tracks[:max_persons]
    m = max(len(tracks), 1)
    keypoint = np.zeros((m, len(frames), v, 2), dtype=np.float32)
    score = np.zeros((m, len(frames), v), dtype=np.float32)
    for p, tr in enumerate(tracks):
        for t, kp in tr["kp"].items():
            keypoint[p, t] = kp
            score[p, t] = tr["sc"][t]
    return keypoint, score


def _record(frame_dir, keypoint, score, img_shape, label=-1) -> dict:
    return {
        "frame_dir": frame_dir,
        "label": int(label),
        "img_shape": tuple(int(x) for x in img_shape),
        "original_shape": tuple(int(x) for x in img_shape),
        "total_frames": int(keypoint.shape[1]),
        "keypoint": keypoint,
        "keypoint_score": score,
    }


def _load_json(path: str):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise ConvertError(f"{path}:{e.lineno}: invalid JSON ({e.msg})") from None


def _instances(inst: dict, where: str) -> tuple[np.ndarray, np.ndarray]:
    if "keypoints" not in inst:
        raise ConvertError(f"{where}: an instance without 'keypoints' (keys: {sorted(inst)})")
    kp = np.asarray(inst["keypoints"], dtype=np.float32)
    if kp.ndim == 3 and kp.shape[0] == 1:  # some MMPose versions keep a batch axis
        kp = kp[0]
    if kp.ndim != 2 or kp.shape[1] not in (2, 3):
        raise ConvertError(f"{where}: 'keypoints' has shape {kp.shape}; expected (V, 2)")
    sc = inst.get("keypoint_scores")
    sc = np.asarray(sc, dtype=np.float32).reshape(-1) if sc is not None else None
    if sc is None:
        sc = kp[:, 2].copy() if kp.shape[1] == 3 else np.ones(len(kp), np.float32)
    if len(sc) != len(kp):
        raise ConvertError(f"{where}: {len(sc)} keypoint_scores for {len(kp)} keypoints")
    return kp[:, :2], sc


def convert_mmpose(path: str, img_shape=(1080, 1920), label=-1, max_persons=None) -> dict:
    """One MMPose inference JSON (a video's predictions) as a skeleton record."""
    data = _load_json(path)
    if isinstance(data, dict) and "instance_info" in data:
        data = data["instance_info"]
    if not isinstance(data, list):
        raise ConvertError(f"{path}: expected a list of frames (or 'instance_info')")
    if data and isinstance(data[0], dict) and "instances" not in data[0]:
        data = [{"frame_id": 0, "instances": data}]  # an image's list of instances
    frames = []
    for i, frame in enumerate(data):
        if not isinstance(frame, dict) or "instances" not in frame:
            raise ConvertError(f"{path}: frame {i} has no 'instances'")
        frames.append([_instances(inst, f"{path}: frame {i}") for inst in frame["instances"] or []])
    if not frames:
        raise ConvertError(f"{path}: no frames")
    kp, sc = track_persons(frames, max_persons)
    name = os.path.splitext(os.path.basename(path))[0]
    return _record(name, kp, sc, img_shape, label)


def convert_coco(path: str, label=-1, max_persons=None) -> list[dict]:
    """A COCO keypoint annotation file as skeleton records (see the module docstring)."""
    data = _load_json(path)
    if not isinstance(data, dict) or "images" not in data or "annotations" not in data:
        raise ConvertError(f"{path}: expected a COCO file with 'images' and 'annotations'")
    images = {img["id"]: img for img in data["images"]}
    per_image: dict = {}
    for k, ann in enumerate(data["annotations"]):
        if "keypoints" not in ann or "image_id" not in ann:
            raise ConvertError(f"{path}: annotations[{k}] has no 'keypoints' or 'image_id'")
        if ann["image_id"] not in images:
            raise ConvertError(f"{path}: annotations[{k}] names image {ann['image_id']!r}")
        kps = np.asarray(ann["keypoints"], dtype=np.float32).reshape(-1, 3)
        vis = kps[:, 2] > 0
        kp = np.where(vis[:, None], kps[:, :2], 0).astype(np.float32)
        per_image.setdefault(ann["image_id"], []).append(
            (ann.get("track_id"), kp, vis.astype(np.float32))
        )
    videos: dict = {}
    for img in data["images"]:
        key = img.get("vid_id", img.get("video_id"))
        name = str(key) if key is not None else os.path.splitext(str(img["file_name"]))[0]
        videos.setdefault(name, []).append(img)
    records = []
    for name, imgs in videos.items():
        imgs.sort(key=lambda im: (im.get("frame_id", im["id"]), im["id"]))
        shape = (int(imgs[0].get("height", 0)), int(imgs[0].get("width", 0)))
        people = [per_image.get(im["id"], []) for im in imgs]
        if all(tid is not None for f in people for tid, _, _ in f):
            ids = sorted({tid for f in people for tid, _, _ in f})
            v = next((len(kp) for f in people for _, kp, _ in f), 17)
            kp = np.zeros((max(len(ids), 1), len(imgs), v, 2), np.float32)
            sc = np.zeros(kp.shape[:3], np.float32)
            for t, f in enumerate(people):
                for tid, k, s in f:
                    kp[ids.index(tid), t], sc[ids.index(tid), t] = k, s
            order = np.argsort(-sc.sum((1, 2)), kind="stable")[:max_persons]
            kp, sc = kp[order], sc[order]
        else:
            kp, sc = track_persons([[(k, s) for _, k, s in f] for f in people], max_persons)
        records.append(_record(name, kp, sc, shape, label))
    return records


_FRAME_NO = re.compile(r"(\d+)(?=_keypoints\.json$)")


def convert_openpose(folder: str, img_shape=(1080, 1920), label=-1, layout="openpose",
                     max_persons=None) -> dict:  # fmt: skip
    """An OpenPose output folder (one JSON per frame) as a skeleton record."""
    if layout not in ("openpose", "coco"):
        raise ValueError(f"layout={layout!r}; expected 'openpose' or 'coco'")
    files = glob.glob(os.path.join(folder, "*_keypoints.json"))
    if not files:
        raise ConvertError(f"{folder}: no OpenPose '*_keypoints.json' files")

    def number(f):
        m = _FRAME_NO.search(os.path.basename(f))
        return (int(m.group(1)) if m else -1, f)

    frames = []
    for f in sorted(files, key=number):
        data = _load_json(f)
        persons = []
        for k, person in enumerate(data.get("people", [])):
            flat = person.get("pose_keypoints_2d")
            if flat is None or len(flat) % 3:
                raise ConvertError(f"{f}: people[{k}] has no [x, y, c] * V 'pose_keypoints_2d'")
            arr = np.asarray(flat, dtype=np.float32).reshape(-1, 3)
            if len(arr) == 25:
                arr = arr[list(BODY25_TO_OPENPOSE)]
            elif len(arr) != 18:
                raise ConvertError(f"{f}: people[{k}] has {len(arr)} joints; expected 18 or 25")
            if layout == "coco":
                arr = arr[list(OPENPOSE_TO_COCO)]
            persons.append((arr[:, :2].copy(), arr[:, 2].copy()))
        frames.append(persons)
    kp, sc = track_persons(frames, max_persons)
    name = os.path.basename(os.path.normpath(folder))
    return _record(name, kp, sc, img_shape, label)


def read_labels(path: str) -> dict[str, int]:
    """``sample_id label`` lines (the sample id is the file or folder name without extension)."""
    labels = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            cols = line.split()
            if not cols:
                continue
            if len(cols) != 2 or not cols[1].lstrip("-").isdigit():
                raise ConvertError(f"{path}:{n}: expected 'sample_id label', got {line.strip()!r}")
            labels[cols[0]] = int(cols[1])
    return labels


def write_pose_pickle(records: list[dict], path: str, split: str = "all") -> str:
    """Write ``records`` as MMAction2's skeleton pickle with one split ``split``."""
    names = [r["frame_dir"] for r in records]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ConvertError(f"sample names repeat: {sorted(dup)[:5]}; give the files unique names")
    data = {"split": {split: names}, "annotations": records}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        pickle.dump(data, f, protocol=4)
    os.replace(tmp, path)
    return path
