"""MMAction2's ``AVAMetric``: AVA frame mAP at IoU 0.5, overall and per action category.

The engine passes, per sample in dataset order, the result dict of the detector's ``results``
(``video_id``, ``timestamp``, ``bboxes`` ``(k, 4)`` x1y1x2y2 normalised to [0, 1], ``scores``
``(k, num_classes)``); the ground truth is read from ``ann_file``, as MMAction2 does.

The numbers equal MMAction2's ``ava_eval`` (tests/evaluation/test_ava_metric.py checks them
against a fixture made with MMAction2 itself), so they keep its definitions:

- detections go through MMAction2's result csv, so boxes and scores are rounded to 4 decimals;
- only frames that have (whitelisted) ground truth and are not excluded are evaluated;
  detections elsewhere are ignored;
- a detection is a true positive when the ground-truth box of its class with the highest IoU
  (the first of equal ones) overlaps it by >= 0.5 and no higher-scored detection of its frame
  took that box (a detection does not fall back to its second-best box);
- the number of positives of a class counts its ground truth in every frame, excluded ones too;
- a class enters the mean only when some evaluated frame has a detection of it; its AP is NaN
  (left out of the mean) when it has no ground truth;
- AP is VOC's area under the interpolated precision-recall curve; detections of a class are
  ranked by ``np.argsort`` of their float32 scores, reversed, in MMAction2's order (score ties
  keep that order, which is what makes the numbers equal);
- categories by class id: person movement <= 14 < object manipulation < 64 <= person
  interaction.
"""

from __future__ import annotations

import csv
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from vidlab.evaluation.matching import greedy_true_positives, voc_average_precision

__all__ = [
    "AVAMetric",
    "ava_frame_map",
    "collect_detections",
    "read_ava_boxes",
    "read_exclusions",
    "read_labelmap",
    "write_results_csv",
]

CATEGORIES = {  # MMAction2's split of AVA's 80 action ids
    "person_movement": lambda k: k <= 14,
    "object_manipulation": lambda k: 14 < k < 64,
    "person_interaction": lambda k: k >= 64,
}


def image_key(video_id: str, timestamp) -> str:
    """``'{video_id},{timestamp:04d}'``, AVA's frame key."""
    return f"{video_id},{int(timestamp):04d}"


def read_labelmap(path: str) -> tuple[list[dict], set[int]]:
    """The ``{'id', 'name'}`` entries of a label-map pbtxt (``name:`` then ``id:`` or
    ``label_id:`` lines, read line by line as MMAction2 does) and the set of ids."""
    labelmap, name = [], ""
    with open(path) as f:
        for line in f:
            if line.startswith("  name:"):
                name = line.split('"')[1]
            elif line.startswith("  id:") or line.startswith("  label_id:"):
                labelmap.append({"id": int(line.strip().split(" ")[-1]), "name": name})
    return labelmap, {e["id"] for e in labelmap}


def read_exclusions(path: str | None) -> set[str]:
    """The excluded frame keys of a ``video_id,timestamp`` csv (none without a file)."""
    if not path:
        return set()
    out = set()
    with open(path, newline="") as f:
        for line_no, row in enumerate(csv.reader(f), 1):
            if len(row) != 2:
                raise ValueError(f"{path}:{line_no}: expected video_id,timestamp; got {row}")
            out.add(image_key(row[0], row[1]))
    return out


@dataclass
class Boxes:
    """Rows of an AVA-format csv: frame keys in order of first appearance, and per row the
    index of its key, its box ``(n, 4)`` x1y1x2y2, label and score (1.0 when the file has
    no score column; AVA's annotation files have an entity id there, which counts as one)."""

    keys: list[str]
    frame: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    scores: np.ndarray


def _table(keys, frames, boxes, labels, scores) -> Boxes:
    return Boxes(
        keys,
        np.asarray(frames, dtype=np.int64),
        np.asarray(boxes, dtype=np.float64).reshape(-1, 4),
        np.asarray(labels, dtype=np.int64),
        np.asarray(scores, dtype=np.float64),
    )


def read_ava_boxes(path: str, class_whitelist=None) -> Boxes:
    """The rows of an AVA csv (``video_id, timestamp, x1, y1, x2, y2, action_id[, score]``)
    whose action is in ``class_whitelist`` (all when it is empty or None)."""
    with open(path, newline="") as f:
        return _parse_rows(csv.reader(f), path, class_whitelist)


def _parse_rows(rows, path: str, class_whitelist) -> Boxes:
    index: dict[str, int] = {}
    frames, boxes, labels, scores = [], [], [], []
    for line_no, row in enumerate(rows, 1):
        if len(row) not in (7, 8):
            raise ValueError(
                f"{path}:{line_no}: expected 7 or 8 columns (video_id, timestamp, x1, y1, x2, "
                f"y2, action_id[, score]); got {len(row)}: {row}"
            )
        try:
            key = image_key(row[0], row[1])
            box = [float(v) for v in row[2:6]]
            label = int(row[6])
            score = float(row[7]) if len(row) == 8 else 1.0
        except ValueError as e:
            raise ValueError(f"{path}:{line_no}: {e} in {row}") from None
        if class_whitelist and label not in class_whitelist:
            continue
        frames.append(index.setdefault(key, len(index)))
        boxes.append(box)
        labels.append(label)
        scores.append(score)
    return _table(list(index), frames, boxes, labels, scores)


@dataclass
class Detections:
    """The (box, class) pairs that MMAction2 writes to its result csv, in its order: by
    sample, then class column, then box. ``sample`` indexes ``samples`` (``video_id`` and
    timestamp of each sample); boxes and scores are float32, as the model's tensors."""

    samples: list[tuple[str, int]]
    sample: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    scores: np.ndarray


def collect_detections(
    results: Sequence[Mapping], num_classes: int, action_thr: float, custom_classes=None
) -> Detections:
    """The detections of per-sample results (MMAction2's ``bbox2result``): for each class
    column (background column 0 excepted), the boxes scoring above ``action_thr`` (a negative
    threshold: each box for its best class only). Column ``i`` is action ``i``, or
    ``custom_classes[i - 1]``."""
    ids = np.arange(1, num_classes) if custom_classes is None else np.asarray(custom_classes)
    if len(ids) != num_classes - 1:
        raise ValueError(
            f"AVAMetric: {len(ids)} custom_classes for num_classes={num_classes} score columns "
            "(background included); expected num_classes - 1"
        )
    samples, parts = [], []
    for r in results:
        bboxes = np.asarray(r["bboxes"], dtype=np.float32).reshape(-1, 4)
        if len(bboxes) == 0:
            continue
        scores = np.asarray(r["scores"], dtype=np.float32)
        if scores.shape != (len(bboxes), num_classes):
            raise ValueError(
                f"AVAMetric: {r.get('video_id')},{r.get('timestamp')}: scores of shape "
                f"{scores.shape}; expected ({len(bboxes)}, num_classes={num_classes})"
            )
        if action_thr < 0:  # single-label: each box counts for its best class only
            best = scores[:, 1:].argmax(axis=1)
            keep = best[None, :] == np.arange(num_classes - 1)[:, None]  # (K-1, k)
        else:
            keep = (scores[:, 1:] > action_thr).T  # (K-1, k)
        column, box = np.nonzero(keep)  # class-major, boxes in order
        parts.append((len(samples), bboxes[box], column, scores[box, column + 1]))
        samples.append((str(r["video_id"]), int(r["timestamp"])))
    if not parts:
        return Detections(samples, np.zeros(0, np.int64), np.zeros((0, 4), np.float32),
                          np.zeros(0, np.int64), np.zeros(0, np.float32))  # fmt: skip
    return Detections(
        samples,
        np.concatenate([np.full(len(p[2]), p[0]) for p in parts]),
        np.concatenate([p[1] for p in parts]),
        ids[np.concatenate([p[2] for p in parts])].astype(np.int64),
        np.concatenate([p[3] for p in parts]),
    )


def write_results_csv(dets: Detections, path: str) -> None:
    """MMAction2's result csv ``video_id,timestamp,x1,y1,x2,y2,action_id,score`` (4 decimals),
    e.g. for AVA's official evaluation."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        for i, box, label, score in zip(dets.sample, dets.boxes.tolist(), dets.labels, dets.scores):
            video_id, timestamp = dets.samples[i]
            x1, y1, x2, y2 = box
            f.write(
                f"{video_id},{timestamp},{x1:.4f},{y1:.4f},{x2:.4f},{y2:.4f},{label},{score:.4f}\n"
            )


def _csv_round(x: np.ndarray) -> np.ndarray:
    """float32 values as the csv's ``%.4f`` text reads back. Exact: a float32 times 10000 is
    exact in float64, ``rint`` rounds half to even as the formatting does, and the division
    gives the double nearest to the same 4-decimal number."""
    return np.rint(x.astype(np.float64) * 10000) / 10000


def _as_read(dets: Detections, class_whitelist) -> Boxes:
    """The detections as ``ava_eval`` reads them back from the csv."""
    index: dict[str, int] = {}
    frame_of_sample = np.array(
        [index.setdefault(image_key(v, t), len(index)) for v, t in dets.samples], dtype=np.int64
    )
    keep = np.isin(dets.labels, sorted(class_whitelist)) if class_whitelist else slice(None)
    return Boxes(
        list(index),
        frame_of_sample[dets.sample[keep]] if len(dets.sample) else np.zeros(0, np.int64),
        _csv_round(dets.boxes[keep]),
        dets.labels[keep],
        _csv_round(dets.scores[keep]),
    )


def _by_frame(table: Boxes, frame_of_key: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Rows in evaluated frames (``frame_of_key``), ordered as ``ava_eval`` sees them: by
    evaluated frame, then by descending score (ties in file order). Returns the row indices
    and their evaluated-frame positions."""
    where = np.array([frame_of_key.get(k, -1) for k in table.keys], dtype=np.int64)
    pos = where[table.frame] if len(table.frame) else np.zeros(0, np.int64)
    rows = np.nonzero(pos >= 0)[0]
    order = np.lexsort((-table.scores[rows], pos[rows]))  # stable: ties keep file order
    return rows[order], pos[rows[order]]


def _pair_iou(det: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """IoU of row-aligned float32 x1y1x2y2 boxes, with the dtypes of MMAction2's ``np_box_ops``
    (float32 sides and areas, float64 intersection and union), so >= 0.5 decides the same."""
    lo = np.maximum(det[:, :2], gt[:, :2])
    hi = np.minimum(det[:, 2:], gt[:, 2:])
    sides = np.maximum(np.zeros(lo.shape), hi - lo)  # float32 difference, then float64
    inter = sides[:, 1] * sides[:, 0]
    area_d = (det[:, 3] - det[:, 1]) * (det[:, 2] - det[:, 0])
    area_g = (gt[:, 3] - gt[:, 1]) * (gt[:, 2] - gt[:, 0])
    with np.errstate(divide="ignore", invalid="ignore"):
        return inter / ((area_d + area_g) - inter)


def _true_positives(det: Boxes, d_rows, d_pos, gt: Boxes, g_rows, g_pos, thr) -> np.ndarray:
    """For each detection (in evaluation order), whether it is a true positive."""
    num_labels = int(max(det.labels.max(initial=0), gt.labels.max(initial=0))) + 1
    d_boxes = det.boxes[d_rows].astype(np.float32)  # MMAction2 matches float32 boxes
    g_boxes = gt.boxes[g_rows].astype(np.float32)
    return greedy_true_positives(
        d_pos * num_labels + det.labels[d_rows],  # (frame, label) of each detection
        g_pos * num_labels + gt.labels[g_rows],
        lambda d, g: _pair_iou(d_boxes[d], g_boxes[g]),
        thr,
    )


def _average_precision(scores32: np.ndarray, tp: np.ndarray, num_gt: int) -> float:
    """VOC AP: the area under the precision-recall curve made non-increasing."""
    if num_gt == 0:
        return float("nan")
    if len(scores32) == 0:
        return 0.0
    hits = tp[np.argsort(scores32)[::-1]].astype(int)
    cum_tp = np.cumsum(hits)
    precision = cum_tp.astype(float) / np.arange(1, len(hits) + 1)
    return voc_average_precision(precision, cum_tp.astype(float) / num_gt)


def ava_frame_map(
    detections: Boxes,
    ground_truth: Boxes,
    excluded: set[str],
    class_ids: Sequence[int],
    iou_thr: float = 0.5,
) -> dict[int, float]:
    """AP of each class that has a detection in an evaluated frame (MMAction2's ``ava_eval``
    with ``ignore_empty_frames=True``); both tables already filtered to ``class_ids``."""
    evaluated = [k for k in ground_truth.keys if k not in excluded]
    frame_of_key = {k: i for i, k in enumerate(evaluated)}
    d_rows, d_pos = _by_frame(detections, frame_of_key)
    g_rows, g_pos = _by_frame(ground_truth, frame_of_key)
    if len(d_rows) == 0:
        return {}
    tp = _true_positives(detections, d_rows, d_pos, ground_truth, g_rows, g_pos, iou_thr)
    labels = detections.labels[d_rows]
    scores32 = detections.scores[d_rows].astype(np.float32)
    out = {}
    for k in sorted(set(labels.tolist())):
        mine = labels == k
        num_gt = int(np.sum(ground_truth.labels == k)) if k in set(class_ids) else 0
        out[k] = _average_precision(scores32[mine], tp[mine], num_gt)
    return out


def _nanmean(values) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # empty / all-NaN -> NaN, as MMAction2
        return float(np.nanmean(np.asarray(values, dtype=np.float64)))


def summarize(class_ap: Mapping[int, float]) -> dict[str, float]:
    """``overall`` and the three category means of per-class APs (NaN where none)."""
    out = {"overall": _nanmean(list(class_ap.values()))}
    for name, member in CATEGORIES.items():
        out[name] = _nanmean([ap for k, ap in class_ap.items() if member(k)])
    return out


class AVAMetric:
    """AVA frame mAP at IoU 0.5 (MMAction2's ``AVAMetric``): keys ``mAP/overall``,
    ``mAP/person_movement``, ``mAP/object_manipulation``, ``mAP/person_interaction``.

    Args:
        ann_file: ground-truth csv (``video_id, timestamp, x1, y1, x2, y2, action_id,
            entity_id``, boxes normalised).
        exclude_file: csv of excluded ``video_id,timestamp`` frames (or None).
        label_file: label-map pbtxt; its ids are the evaluated classes.
        options: ``('mAP',)``, the only one MMAction2 has.
        action_thr: a box counts for a class whose score is above this (negative: for its best
            class only).
        num_classes: score columns, background column 0 included.
        custom_classes: the action ids of score columns 1, 2, ... (a subset of the label map's).
        out_file: vidlab's: also write the detections as MMAction2's result csv there.
        collect_device, prefix: MMEngine's (``prefix`` defaults to ``'mAP'``).

    After :meth:`compute`, ``class_ap`` holds each evaluated class's AP (``{id: ap}``) and
    ``class_names`` their names.
    """

    def __init__(
        self,
        ann_file: str,
        exclude_file: str | None,
        label_file: str,
        options: Sequence[str] = ("mAP",),
        action_thr: float = 0.002,
        num_classes: int = 81,
        custom_classes: Sequence[int] | None = None,
        collect_device: str = "cpu",
        prefix: str | None = None,
        out_file: str | None = None,
    ):
        if tuple(options) != ("mAP",):
            raise ValueError(f"AVAMetric.options={tuple(options)!r}; only ('mAP',) exists")
        self.ann_file, self.exclude_file, self.label_file = ann_file, exclude_file, label_file
        self.options = tuple(options)
        self.action_thr = action_thr
        self.num_classes = num_classes
        self.custom_classes = list(custom_classes) if custom_classes is not None else None
        self.prefix = prefix or "mAP"
        self.out_file = out_file
        self.class_ap: dict[int, float] = {}
        self.class_names: dict[int, str] = {}

    def _classes(self) -> tuple[dict[int, str], list[int]]:
        labelmap, ids = read_labelmap(self.label_file)
        names = {e["id"]: e["name"] for e in labelmap}
        if self.custom_classes is None:
            return names, sorted(ids)
        unknown = sorted(set(self.custom_classes) - ids)
        if unknown:
            raise ValueError(
                f"AVAMetric.custom_classes {unknown} are not in label_file {self.label_file}"
            )
        return names, list(self.custom_classes)

    def detections(self, results: Sequence[Mapping]) -> Detections:
        """The detections of the per-sample results, as MMAction2's result csv has them."""
        return collect_detections(
            results, self.num_classes, self.action_thr, custom_classes=self.custom_classes
        )

    def compute(self, results: Sequence[Mapping], ground_truth=None) -> dict:
        """The mAPs of the whole set (``ground_truth`` is unused: it is read from ann_file)."""
        names, class_ids = self._classes()
        whitelist = set(class_ids)
        found = self.detections(results)
        if self.out_file:
            write_results_csv(found, self.out_file)
        gt = read_ava_boxes(self.ann_file, whitelist)
        if not gt.keys:
            raise ValueError(f"AVAMetric: {self.ann_file} has no box of the evaluated classes")
        dets = _as_read(found, whitelist)
        self.class_ap = ava_frame_map(dets, gt, read_exclusions(self.exclude_file), class_ids)
        self.class_names = {k: names.get(k, str(k)) for k in self.class_ap}
        return {f"{self.prefix}/{k}": v for k, v in summarize(self.class_ap).items()}

    def __repr__(self) -> str:
        return f"AVAMetric(ann_file={self.ann_file!r}, custom_classes={self.custom_classes})"
