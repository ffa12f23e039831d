"""``PoseDataset``: MMAction2's skeleton annotation pickles.

The file (``.pkl``) holds either ``{"split": {name: [ids]}, "annotations": [record, ...]}`` or
a bare list of records. A record is a dict::

    frame_dir       str     the sample's id (or ``filename``)
    total_frames    int     frames of the sequence
    label           int     (-1: unlabelled, e.g. converted for inference)
    keypoint        (M, T, V, C) float   persons, frames, joints, coordinates (C = 2 or 3)
    keypoint_score  (M, T, V)    float   optional (3D NTU keypoints have none)
    img_shape, original_shape   (h, w)  optional (2D keypoints are in pixels of this frame)

Kinetics-skeleton's compressed records (``keypoint`` ``(K, V, 3)`` rows with ``frame_inds``,
read by ``DecompressPose``) and per-sample skeleton files (``data_prefix=dict(skeleton=dir)``,
``dir/<frame_dir>.pkl``) are read too. Every record is checked when the file is read; all the
problems are reported at once, each naming the record and the field.

The pickle is read with a restricted unpickler: only NumPy's array and scalar globals and
plain containers, nothing that runs code.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Sequence

import numpy as np

from vidlab.data.annotations import AnnotationError
from vidlab.data.datasets import BaseActionDataset
from vidlab.data.pipeline import Compose

__all__ = ["PoseDataset", "load_pose_pickle", "check_record"]

_BOX_THRS = (0.5, 0.6, 0.7, 0.8, 0.9)


def load_pose_pickle(path: str | os.PathLike):
    """The object in the skeleton pickle ``path``, read with the restricted unpickler.

    Raises:
        FileNotFoundError: no such file.
        AnnotationError: not a pickle, or it names a class that is not allowed.
    """
    from vidlab.checkpoint import load_pickle

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: skeleton annotation file does not exist")
    try:
        return load_pickle(path, "a skeleton pickle")
    except pickle.UnpicklingError as e:
        raise AnnotationError(f"{path}: not a readable skeleton pickle ({e})") from None


def _sample_id(rec: dict) -> str:
    return str(rec.get("frame_dir", rec.get("filename", "?")))


def check_record(rec, need_keypoint: bool = True) -> list[str]:
    """Problems of one skeleton record (an empty list when it is well formed), each naming the
    field: missing fields, arrays of the wrong rank, shapes that disagree. ``need_keypoint``
    False: the keypoints are elsewhere (per-sample files) and are checked only if present."""
    if not isinstance(rec, dict):
        return [f"is a {type(rec).__name__}, not a dict"]
    problems = []
    if "frame_dir" not in rec and "filename" not in rec:
        problems.append("field 'frame_dir' (or 'filename') is missing")
    if "label" not in rec:
        problems.append("field 'label' is missing")
    elif not isinstance(rec["label"], (int, np.integer)) or int(rec["label"]) < -1:
        problems.append(
            f"field 'label' is {rec['label']!r}; expected an integer >= 0 (-1: unlabelled)"
        )
    if "total_frames" not in rec:
        problems.append("field 'total_frames' is missing")
    elif not isinstance(rec["total_frames"], (int, np.integer)) or rec["total_frames"] < 1:
        problems.append(f"field 'total_frames' is {rec['total_frames']!r}; expected an int >= 1")
    for key in ("img_shape", "original_shape"):
        if key in rec:
            shape = rec[key]
            if not (isinstance(shape, (tuple, list)) and len(shape) == 2):
                problems.append(f"field {key!r} is {shape!r}; expected (height, width)")
    if "keypoint" not in rec:
        if need_keypoint:
            problems.append("field 'keypoint' is missing")
        return problems
    kp = rec["keypoint"]
    if not isinstance(kp, np.ndarray):
        return problems + [f"field 'keypoint' is a {type(kp).__name__}, not a NumPy array"]
    if "frame_inds" in rec and kp.ndim == 3:
        if kp.shape[-1] != 3 or len(rec["frame_inds"]) != kp.shape[0]:
            problems.append(
                f"compressed field 'keypoint' has shape {kp.shape}; expected (K, V, 3) with "
                f"K = len(frame_inds) = {len(rec['frame_inds'])}"
            )
        return problems
    if kp.ndim != 4 or kp.shape[-1] not in (2, 3):
        problems.append(
            f"field 'keypoint' has shape {kp.shape}; expected (M, T, V, C) with C = 2 or 3"
        )
        return problems
    total = rec.get("total_frames")
    if isinstance(total, (int, np.integer)) and kp.shape[1] != total:
        problems.append(
            f"field 'keypoint' has {kp.shape[1]} frames (shape {kp.shape}) but "
            f"'total_frames' is {total}"
        )
    if "keypoint_score" in rec:
        score = rec["keypoint_score"]
        if not isinstance(score, np.ndarray) or score.shape != kp.shape[:3]:
            got = score.shape if isinstance(score, np.ndarray) else type(score).__name__
            problems.append(
                f"field 'keypoint_score' has shape {got}; expected (M, T, V) = {kp.shape[:3]}"
            )
    return problems


class PoseDataset(BaseActionDataset):
    """Skeleton sequences from an MMAction2 pose pickle (see the module docstring).

    Args:
        ann_file: the ``.pkl`` file.
        pipeline: transforms.
        split: the name in the file's ``split`` dict whose samples to keep (``'xsub_train'``,
            ``'xsub_val'``, ``'train'``, ...); None: all annotations.
        valid_ratio: Kinetics-skeleton: keep samples whose frames with a person box above
            ``box_thr`` (record field ``valid``) are at least this fraction; their rows with a
            box score (``box_score``) below ``box_thr`` are dropped (``anno_inds``).
        box_thr: 0.5, 0.6, 0.7, 0.8 or 0.9.
        data_prefix: ``dict(video=dir)`` joins ``dir`` to ``frame_dir``/``filename`` (RGB+pose
            pipelines); ``dict(skeleton=dir)`` reads each sample's keypoints from
            ``dir/<frame_dir>.pkl``.
        num_classes, test_mode, multi_class, data_root: see
            :class:`~vidlab.data.datasets.BaseActionDataset`.
        start_index: first frame number, 0 (MMAction2's) unless given.
        modality: MMAction2's, accepted and without effect (the modality is 'Pose').
        **kwargs: ``on_error``, ``indices`` and MMEngine's arguments, passed on to
            :class:`~vidlab.data.datasets.BaseActionDataset`.
    """

    _prefix_keys = ("video", "prefix")

    def __init__(
        self,
        ann_file: str,
        pipeline: Sequence[dict | Callable] | Compose,
        split: str | None = None,
        valid_ratio: float | None = None,
        box_thr: float = 0.5,
        data_prefix: str | dict | None = None,
        test_mode: bool = False,
        multi_class: bool = False,
        num_classes: int | None = None,
        start_index: int = 0,
        modality: str = "Pose",
        data_root: str | None = None,
        **kwargs,
    ) -> None:
        self.split = split
        self.valid_ratio = valid_ratio
        self.box_thr = box_thr
        if box_thr not in _BOX_THRS:
            raise ValueError(f"box_thr={box_thr}; expected one of {_BOX_THRS}")
        skeleton_dir = data_prefix.get("skeleton") if isinstance(data_prefix, dict) else None
        if skeleton_dir and data_root and not os.path.isabs(skeleton_dir):
            skeleton_dir = os.path.join(data_root, skeleton_dir)
        self.skeleton_dir = skeleton_dir
        super().__init__(
            ann_file,
            pipeline,
            data_prefix=data_prefix,
            test_mode=test_mode,
            multi_class=multi_class,
            num_classes=num_classes,
            start_index=start_index,
            modality="Pose",
            data_root=data_root,
            **kwargs,
        )
        if self.skeleton_dir:
            self.data_prefix["skeleton"] = self.skeleton_dir

    # -- reading ------------------------------------------------------------------------------
    def _load(self) -> list[dict]:
        if not self.ann_file.endswith(".pkl"):
            raise AnnotationError(f"{self.ann_file}: PoseDataset reads a .pkl annotation file")
        data = load_pose_pickle(self.ann_file)
        annos = data
        if isinstance(data, dict):
            if "annotations" not in data:
                raise AnnotationError(
                    f"{self.ann_file}: a dict without 'annotations' (keys: {sorted(data)}); "
                    "expected {'split': ..., 'annotations': [...]} or a list of records"
                )
            annos = data["annotations"]
        if not isinstance(annos, list):
            raise AnnotationError(
                f"{self.ann_file}: 'annotations' is a {type(annos).__name__}, not a list"
            )
        positions = list(range(len(annos)))
        if self.split is not None:
            splits = data.get("split") if isinstance(data, dict) else None
            if not isinstance(splits, dict):
                raise AnnotationError(
                    f"{self.ann_file}: split={self.split!r} was asked for but the file has no "
                    "'split' dict"
                )
            if self.split not in splits:
                raise AnnotationError(
                    f"{self.ann_file}: no split {self.split!r}; the file has {sorted(splits)}"
                )
            keep = set(splits[self.split])
            ident = "filename" if annos and "filename" in annos[0] else "frame_dir"
            positions = [i for i in positions if annos[i].get(ident) in keep]
        records, problems = [], []
        for i in positions:
            rec = annos[i]
            where = f"{self.ann_file}: record {i}"
            if isinstance(rec, dict):
                where += f" ({_sample_id(rec)})"
            # keypoints in per-sample files (data_prefix=dict(skeleton=...)), or Kinetics-skeleton
            # metadata (frame_inds, box_score) whose keypoints come later: checked when read
            elsewhere = self.skeleton_dir or (isinstance(rec, dict) and "frame_inds" in rec)
            found = check_record(rec, need_keypoint=not elsewhere)
            problems += [f"{where}: {p}" for p in found]
            if found:
                continue
            rec = dict(rec)
            rec["label"] = int(rec["label"])
            rec["ann_line"] = where
            records.append(rec)
        if problems:
            raise AnnotationError(self._problem_report(problems))
        if self._prefix:
            for rec in records:
                for key in ("filename", "frame_dir"):
                    if key in rec:
                        rec[key] = os.path.join(self._prefix, rec[key])
        return self._filter(records)

    def _filter(self, records: list[dict]) -> list[dict]:
        """Kinetics-skeleton's ``valid_ratio``/``box_thr`` selection (MMAction2's filter_data)."""
        if not (isinstance(self.valid_ratio, float) and self.valid_ratio > 0):
            return records
        problems, kept = [], []
        for rec in records:
            valid = rec.get("valid")
            if not isinstance(valid, dict) or self.box_thr not in valid:
                problems.append(
                    f"{rec['ann_line']}: field 'valid' has no entry for box_thr={self.box_thr} "
                    "(valid_ratio needs it)"
                )
                continue
            if valid[self.box_thr] / rec["total_frames"] < self.valid_ratio:
                continue
            if "box_score" not in rec:
                problems.append(f"{rec['ann_line']}: field 'box_score' is missing (valid_ratio)")
                continue
            rec["anno_inds"] = np.asarray(rec["box_score"]) >= self.box_thr
            kept.append(rec)
        if problems:
            raise AnnotationError(self._problem_report(problems))
        return kept

    # -- items --------------------------------------------------------------------------------
    def _source_path(self, rec: dict) -> str | None:
        return _sample_id(rec)

    def _check_exists(self, rec: dict) -> None:
        pass  # frame_dir is an id here; MMDecode checks the video file it opens

    def get_data_info(self, idx: int) -> dict:
        """The results dict a pipeline starts from: the record, its arrays copied (transforms
        such as ``PreNormalize2D`` change them in place, as in MMAction2)."""
        rec = self._records[idx]
        info = {}
        for k, v in rec.items():
            info[k] = v.copy() if isinstance(v, (np.ndarray, list, dict)) else v
        if self.skeleton_dir:
            path = os.path.join(self.skeleton_dir, _sample_id(rec) + ".pkl")
            ske = load_pose_pickle(path)
            if not isinstance(ske, dict):
                raise AnnotationError(f"{path}: expected a dict of skeleton fields")
            info.update(ske)
            found = check_record(info)
            if found:
                raise AnnotationError("\n".join(f"{path}: {p}" for p in found))
        info["modality"] = "Pose"
        info["start_index"] = self.start_index
        info["index"] = idx
        info["sample_idx"] = idx
        return info

    def __repr__(self) -> str:
        split = f", split={self.split!r}" if self.split else ""
        return (
            f"{type(self).__name__}(ann_file={self.ann_file!r}{split}, {len(self)} samples, "
            f"num_classes={self.num_classes})"
        )
