"""Temporal action localization data: MMAction2's ``ActivityNetDataset`` and its transforms
``LoadLocalizationFeature``, ``GenerateLocalizationLabels`` and ``PackLocalizationInputs``.

The annotation file is a JSON object, video name -> ``{duration_second, duration_frame,
feature_frame, annotations: [{segment: [start_s, end_s], label}], fps, rfps}``; each video's
features are ``<data_prefix>/<video name>.csv``: a header line, then one row per snippet
(``T`` rows of ``C`` comma-separated numbers; MMAction2's ActivityNet files: 100 x 400).

A packed sample is ``{"inputs": float32 (C, T), "gt_instances": {"gt_bbox": float64 (g, 2)},
"meta": {...}, "index": i}``; ``gt_bbox`` holds the segments as fractions of the featured part
of the video (``feature_frame / duration_frame`` of ``duration_second``), clipped to [0, 1], as
MMAction2's ``GenerateLocalizationLabels`` makes them. The loader's collate keeps
``gt_instances`` and ``meta`` as per-sample lists (their sizes differ between videos).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import numpy as np
import torch

from vidlab.data.annotations import AnnotationError
from vidlab.data.datasets import BaseActionDataset, _join

__all__ = [
    "ActivityNetDataset",
    "GenerateLocalizationLabels",
    "LoadLocalizationFeature",
    "LoadProposals",
    "PackLocalizationInputs",
]

_REQUIRED = ("duration_second", "duration_frame", "feature_frame", "annotations")


class ActivityNetDataset(BaseActionDataset):
    """ActivityNet-style localization annotations (MMAction2's format, see the module doc).

    Args:
        ann_file: The JSON annotation file.
        pipeline: Transforms.
        data_prefix: The folder of the ``<video name>.csv`` feature files (a string or
            ``dict(video=folder)``).
        test_mode: Evaluation dataset.
        **kwargs: ``on_error``, ``data_root``, ``indices`` and MMEngine's arguments, passed
            on to ``BaseActionDataset``.
    """

    def __init__(
        self,
        ann_file: str,
        pipeline,
        data_prefix: str | dict | None = "",
        test_mode: bool = False,
        **kwargs,
    ):
        super().__init__(
            ann_file,
            pipeline,
            data_prefix=data_prefix,
            test_mode=test_mode,
            **kwargs,
        )

    def _load(self) -> list[dict]:
        if not os.path.isfile(self.ann_file):
            raise FileNotFoundError(f"{self.ann_file}: annotation file does not exist")
        with open(self.ann_file, encoding="utf-8") as f:
            try:
                database = json.load(f)
            except json.JSONDecodeError as e:
                raise AnnotationError(
                    f"{self.ann_file}:{e.lineno}: invalid JSON ({e.msg})"
                ) from None
        if not isinstance(database, dict):
            raise AnnotationError(
                f"{self.ann_file}: expected a JSON object of video name -> info "
                "(MMAction2's ActivityNet format), got a " + type(database).__name__
            )
        records, problems = [], []
        for name, info in database.items():
            where = f"{self.ann_file}: video {name!r}"
            problem = _check_video(info)
            if problem:
                problems.append(f"{where}: {problem}")
                continue
            rec = dict(info)
            rec["video_name"] = name
            rec["feature_path"] = _join(self._prefix, name + ".csv")
            rec["label"] = -1  # localization has segments, not a video label
            rec["ann_line"] = where
            records.append(rec)
        if problems:
            raise AnnotationError(self._problem_report(problems))
        return records

    def _check_labels(self) -> None:
        pass  # segments carry class names; nothing to check against num_classes

    def check_labels_against(self, num_classes, key: str, need_labels: bool) -> None:
        """Nothing to check: a video's targets are its segments, checked when loading."""

    @property
    def num_classes(self) -> int:
        return 0

    def _source_path(self, rec: dict) -> str | None:
        return rec.get("feature_path")

    def _check_exists(self, rec: dict) -> None:
        path = rec["feature_path"]
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"{path}: feature file does not exist (video {rec['video_name']!r} of "
                f"{self.ann_file}); `vidlab extract-features` writes them"
            )

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        for key in ("explicit_start_index", "start_index", "modality", "label"):
            info.pop(key, None)
        info["annotations"] = [dict(a) for a in info["annotations"]]
        return info


def _check_video(info) -> str | None:
    if not isinstance(info, dict):
        return f"expected an object of {', '.join(_REQUIRED)}, got {type(info).__name__}"
    missing = [k for k in _REQUIRED if k not in info]
    if missing:
        return f"missing {', '.join(missing)} (needs {', '.join(_REQUIRED)})"
    for key in ("duration_second", "duration_frame", "feature_frame"):
        if not isinstance(info[key], (int, float)) or info[key] <= 0:
            return f"{key} must be a positive number, got {info[key]!r}"
    if not isinstance(info["annotations"], list):
        return "annotations must be a list of {segment: [start, end], label}"
    for i, ann in enumerate(info["annotations"]):
        seg = ann.get("segment") if isinstance(ann, dict) else None
        if not (isinstance(seg, (list, tuple)) and len(seg) == 2):
            return f"annotations[{i}] needs 'segment': [start_seconds, end_seconds], got {ann!r}"
        if not all(isinstance(x, (int, float)) for x in seg) or seg[1] < seg[0]:
            return f"annotations[{i}].segment {seg!r}: expected numbers with start <= end"
    return None


class LoadLocalizationFeature:
    """Reads ``results['feature_path']`` (CSV, one header line, ``T`` rows of ``C`` values)
    into ``results['raw_feature']``: float32 ``(C, T)``.

    Args:
        raw_feature_ext: MMAction2 0.x's argument; the file name already has its extension.
    """

    def __init__(self, raw_feature_ext: str = ".csv"):
        self.raw_feature_ext = raw_feature_ext

    def __call__(self, results: dict) -> dict:
        path = results["feature_path"]
        try:
            feature = np.loadtxt(path, dtype=np.float32, delimiter=",", skiprows=1, ndmin=2)
        except ValueError as e:
            raise ValueError(
                f"{path}: not a feature CSV (a header line, then rows of comma-separated "
                f"numbers): {e}"
            ) from None
        results["raw_feature"] = np.ascontiguousarray(feature.T)  # (C, T)
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class GenerateLocalizationLabels:
    """``results['gt_bbox']``: float64 ``(g, 2)`` segments as fractions of the featured part
    of the video (``feature_frame / duration_frame * duration_second`` seconds), clipped to
    [0, 1]."""

    def __call__(self, results: dict) -> dict:
        seconds = float(results["feature_frame"]) / results["duration_frame"]
        seconds = seconds * results["duration_second"]
        boxes = [
            [max(min(1, a["segment"][0] / seconds), 0), max(min(1, a["segment"][1] / seconds), 0)]
            for a in results["annotations"]
        ]
        results["gt_bbox"] = np.array(boxes, dtype=np.float64).reshape(-1, 2)
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class LoadProposals:
    """BSN's PEM input: a video's PGM proposals and their features (MMAction2's transform).

    Reads ``<pgm_proposals_dir>/<video>.csv`` (``tmin,tmax,tmin_score,tmax_score,score,
    match_iou,match_ioa`` rows, best first) and ``<pgm_features_dir>/<video>.npy`` (one
    feature row per proposal), keeps the first ``top_k`` of each and sets ``bsp_feature``,
    ``tmin``, ``tmax``, ``tmin_score``, ``tmax_score`` and ``reference_temporal_iou``
    (``match_iou``). ``vidlab localization pgm`` writes both folders.

    Args:
        top_k: Proposals kept per video.
        pgm_proposals_dir: Folder of the proposal CSVs.
        pgm_features_dir: Folder of the feature files.
        proposal_ext: ``'.csv'`` (the only format MMAction2 reads).
        feature_ext: ``'.npy'`` (the only format MMAction2 reads).
    """

    def __init__(
        self,
        top_k: int,
        pgm_proposals_dir: str,
        pgm_features_dir: str,
        proposal_ext: str = ".csv",
        feature_ext: str = ".npy",
    ):
        if proposal_ext != ".csv" or feature_ext != ".npy":
            raise ValueError(
                f"LoadProposals reads '.csv' proposals and '.npy' features (as MMAction2); got "
                f"proposal_ext={proposal_ext!r}, feature_ext={feature_ext!r}"
            )
        self.top_k = top_k
        self.pgm_proposals_dir = pgm_proposals_dir
        self.pgm_features_dir = pgm_features_dir
        self.proposal_ext = proposal_ext
        self.feature_ext = feature_ext

    def __call__(self, results: dict) -> dict:
        name = results["video_name"]
        path = os.path.join(self.pgm_proposals_dir, name + self.proposal_ext)
        feature_path = os.path.join(self.pgm_features_dir, name + self.feature_ext)
        for p in (path, feature_path):
            if not os.path.exists(p):
                raise FileNotFoundError(
                    f"{p}: no PGM output for video {name!r}; run `vidlab localization pgm "
                    "CONFIG --mode train|test` after testing the TEM"
                )
        proposals = np.loadtxt(path, dtype=np.float32, delimiter=",", skiprows=1, ndmin=2)
        proposals = proposals[: self.top_k]
        features = np.load(feature_path).astype(np.float32)[: self.top_k, :]
        if len(features) != len(proposals):
            raise ValueError(
                f"{feature_path}: {len(features)} feature rows for {len(proposals)} proposals "
                f"in {path}; regenerate both with `vidlab localization pgm`"
            )
        results["bsp_feature"] = features
        results["tmin"], results["tmax"] = proposals[:, 0], proposals[:, 1]
        results["tmin_score"], results["tmax_score"] = proposals[:, 2], proposals[:, 3]
        results["reference_temporal_iou"] = proposals[:, 5]
        return results

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(top_k={self.top_k}, pgm_proposals_dir="
            f"{self.pgm_proposals_dir!r}, pgm_features_dir={self.pgm_features_dir!r})"
        )


class PackLocalizationInputs:
    """The sample of a localization pipeline (see the module docstring).

    ``inputs`` is the ``(C, T)`` feature (``raw_feature``); a pipeline of proposal features
    (``LoadProposals``, for BSN's PEM) has none, and ``inputs`` is a 0-d placeholder as in
    MMAction2: the proposal features travel with the other ``keys``.

    Args:
        keys: Result keys packed as per-video targets under ``gt_instances`` (``'gt_bbox'``;
            PEM's ``'bsp_feature'``, ``'reference_temporal_iou'``, ``'tmin'``, ...).
        meta_keys: Result keys copied into ``sample['meta']``.
    """

    def __init__(self, keys: Sequence[str] = (), meta_keys: Sequence[str] = ("video_name",)):
        self.keys = tuple(keys)
        self.meta_keys = tuple(meta_keys)

    def __call__(self, results: dict) -> dict:
        if "raw_feature" in results:
            inputs = torch.from_numpy(np.asarray(results["raw_feature"], dtype=np.float32))
        elif "bsp_feature" in results:
            inputs = torch.tensor(0.0)
        else:
            raise ValueError(
                "PackLocalizationInputs: no 'raw_feature' (LoadLocalizationFeature) or "
                f"'bsp_feature' (LoadProposals) in the results; keys are {sorted(results)}"
            )
        # arrays keep their dtype, lists become float32 (torch's default), as MMAction2's
        targets = {k: _tensor(results[k]) for k in self.keys if k in results}
        return {
            "inputs": inputs,
            "gt_instances": targets,
            "meta": {k: results[k] for k in self.meta_keys if k in results},
            "index": int(results.get("index", -1)),
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(keys={self.keys}, meta_keys={self.meta_keys})"


def _tensor(value) -> torch.Tensor:
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    return torch.as_tensor(value)
