"""MMAction2's ``MultiSportsMetric``: frame mAP and video (tube) mAP on MultiSports.

The engine passes, per sample (a key frame) in dataset order, the detector's result dict
(``video_id``, ``timestamp`` = 1-based frame number, ``bboxes`` ``(k, 4)`` normalised,
``scores`` ``(k, num_classes)``, no background column); the ground truth is MultiSports' pickle
(``ann_file``: ``labels``, ``test_videos``, ``nframes``, ``resolution`` ``{video: (h, w)}``,
``gttubes`` ``{video: {label: [(n, 5) frame, x1, y1, x2, y2]}}``).

The numbers equal MMAction2's (tests/evaluation/test_multisports_metric.py checks a fixture
made with MMAction2), so its definitions stay, including these:

- each box is one detection, of its best class, scored by that class; boxes in pixels;
- frame mAP: VOC AP at IoU ``F_mAP.thr`` per class, ranked by score, the mean over classes with
  ground truth, in percent; six classes are never evaluated (``SKIPPED``);
- tubes are linked per video and class from frame 1 on: per frame the boxes are rescored by a
  soft NMS (IoU > 0.6 with a better box: score * (1 - IoU); boxes ``+1``-pixel inclusive
  there) and the 10 best kept; tubes, best mean score first, extend by the best-scored box of
  IoU >= 0.5 with their last box, or end; leftover boxes start tubes; tubes shorter than
  ``V_mAP.tube_thr`` frames or of mean score < 0.005 are dropped;
- MMAction2 enters every box into the linking with the score of the *last detection of the
  whole set* (a loop-variable slip in its ``get_vid_dets``); ``own_tube_scores=False`` keeps
  that, so the numbers match its published ones; True uses each box's own score;
- video mAP: a tube matches a ground-truth tube of its video and class by spatio-temporal IoU
  (mean per-frame IoU over the common frames times the temporal IoU, whose lengths are
  ``last - first`` frame numbers); results rounded to 4 decimals.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from vidlab.evaluation.matching import greedy_true_positives, voc_average_precision

__all__ = ["MultiSportsMetric", "frame_detections", "frame_map", "link_tubes", "video_map"]

log = logging.getLogger(__name__)

SKIPPED = (  # MultiSports classes that MMAction2 never evaluates
    "aerobic kick jump",
    "aerobic off axis jump",
    "aerobic butterfly jump",
    "aerobic balance turn",
    "basketball save",
    "basketball jump ball",
)


def _mean(values) -> np.float64:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # no class: NaN, as MMAction2
        return np.mean(100 * np.array(values, dtype=np.float64))


def frame_detections(results: Sequence[Mapping], annos: Mapping) -> np.ndarray:
    """``(n, 8)`` rows ``[video_index, frame, label, score, x1, y1, x2, y2]`` (pixels) of the
    per-sample results: each box with its best class."""
    videos = {v: i for i, v in reversed(list(enumerate(annos["test_videos"][0])))}
    rows = []
    for r in results:
        key = str(r["video_id"]).split(".mp4")[0]
        if key not in annos["resolution"] or key not in videos:
            raise ValueError(f"MultiSportsMetric: video {key!r} is not a test video of ann_file")
        bboxes = np.asarray(r["bboxes"], dtype=np.float32).reshape(-1, 4)
        if len(bboxes) == 0:
            continue
        scores = np.asarray(r["scores"], dtype=np.float32).reshape(len(bboxes), -1)
        h, w = annos["resolution"][key]
        pixels = (bboxes * np.array([w, h, w, h])).astype(np.float32)  # float32, as in place
        labels = np.argmax(scores, axis=1)
        best = scores[np.arange(len(scores)), labels]
        block = np.empty((len(bboxes), 8), dtype=np.float64)
        block[:, 0] = videos[key]  # the first index of the name, as list.index
        block[:, 1] = r["timestamp"]
        block[:, 2] = labels
        block[:, 3] = best
        block[:, 4:] = pixels
        rows.append(block)
    if not rows:
        raise ValueError("MultiSportsMetric: no detections at all; nothing to evaluate")
    return np.concatenate(rows)


def _voc_iou(gt: np.ndarray, det: np.ndarray) -> np.ndarray:
    """IoU of row-aligned x1y1x2y2 boxes, MultiSports' ``iou2d_voc`` arithmetic."""
    width = np.maximum(0, np.minimum(gt[:, 2], det[:, 2]) - np.maximum(gt[:, 0], det[:, 0]))
    height = np.maximum(0, np.minimum(gt[:, 3], det[:, 3]) - np.maximum(gt[:, 1], det[:, 1]))
    overlap = width * height
    area_g = (gt[:, 2] - gt[:, 0]) * (gt[:, 3] - gt[:, 1])
    area_d = (det[:, 2] - det[:, 0]) * (det[:, 3] - det[:, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        return overlap / (area_g + area_d - overlap)


def _pr(tp: np.ndarray, num_gt: int) -> float:
    cum_tp = np.cumsum(tp.astype(np.int64))
    precision = cum_tp / np.arange(1, len(tp) + 1)
    return voc_average_precision(precision, cum_tp / num_gt)


def frame_map(annos: Mapping, dets: np.ndarray, thr: float = 0.5) -> tuple[np.float64, dict]:
    """Frame mAP in percent and each evaluated class's AP (percent), MMAction2's
    ``frameAP``."""
    videos = list(annos["test_videos"][0])
    # group = video * span + frame
    span = int(max(max(int(n) for n in annos["nframes"].values()), dets[:, 1].max())) + 2
    raw = {}
    for label_idx, label in enumerate(annos["labels"]):
        if label in SKIPPED:
            continue
        groups, boxes = [], []  # ground truth by (video, frame), in MMAction2's order
        for iv, v in enumerate(videos):
            for tube in annos["gttubes"][v].get(label_idx, []):
                tube = np.asarray(tube)
                groups.append(iv * span + tube[:, 0].astype(np.int64))
                boxes.append(tube[:, 1:5].astype(np.float64))
        if not groups or sum(len(g) for g in groups) == 0:
            continue
        gt_group, gt_boxes = np.concatenate(groups), np.concatenate(boxes)
        mine = dets[dets[:, 2] == label_idx]
        mine = mine[np.argsort(-mine[:, 3])]
        group = mine[:, 0].astype(np.int64) * span + mine[:, 1].astype(np.int64)
        det_boxes = mine[:, 4:8]

        def pair_iou(d, g, gt_boxes=gt_boxes, det_boxes=det_boxes):
            return _voc_iou(gt_boxes[g], det_boxes[d])

        tp = greedy_true_positives(group, gt_group, pair_iou, thr)
        raw[label] = _pr(tp, len(gt_group))
    return _mean(list(raw.values())), {label: ap * 100 for label, ap in raw.items()}


def _soft_nms(dets: np.ndarray, thr: float = 0.6, top_k: int = 10) -> np.ndarray:
    """MultiSports' tubelet NMS for one-frame tubelets ``(m, 5)`` x1y1x2y2 + score: a box
    overlapping a better kept box by IoU > thr is dropped from the kept set and its score
    multiplied by 1 - IoU; then the ``top_k`` best by the new scores."""
    if len(dets) == 0:
        return dets
    x1, y1, x2, y2, scores = dets.T
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(scores)[::-1]
    weight = np.zeros_like(scores) + 1
    while order.size > 0:
        i, rest = order[0], order[1:]
        w = np.maximum(0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = w * h
        ious = inter / (area[rest] + area[i] - inter)
        over = ious > thr
        weight[rest[over]] = 1 - ious[over]
        order = rest[ious <= thr]  # a NaN IoU drops the box too, its score unchanged
    dets = dets.copy()
    dets[:, -1] = dets[:, -1] * weight
    return dets[np.argsort(dets[:, -1])[::-1]][:top_k]


def _tube_score(tube: list) -> np.float64:
    return np.mean(np.array([box[-1] for _, box in tube]))


def _link_class(per_frame: dict, num_frames: int) -> list[list]:
    """The tubes (lists of ``(frame, box)``) of one class of one video."""
    finished, current = [], []
    for frame in range(1, num_frames + 1):
        boxes = _soft_nms(per_frame.get(frame, np.empty((0, 5))), 0.6, top_k=10)
        if frame > 1:
            order = np.argsort(-np.array([_tube_score(t) for t in current]))
            current = [current[i] for i in order]
            ended = []
            for it, tube in enumerate(current):
                last = tube[-1][1]
                ious = _voc_iou(boxes[:, :4], np.broadcast_to(last[:4], (len(boxes), 4)))
                valid = np.nonzero(ious >= 0.5)[0]
                if valid.size:
                    idx = valid[np.argmax(boxes[valid, -1])]
                    tube.append((frame, boxes[idx]))
                    boxes = np.delete(boxes, idx, axis=0)
                else:  # not extended on the next frame: the tube ends
                    ended.append(it)
            for it in ended[::-1]:
                finished.append(current.pop(it))
        current += [[(frame, box)] for box in boxes]
    return finished + current


def link_tubes(
    annos: Mapping, dets: np.ndarray, len_thre: int = 15, own_tube_scores: bool = False
) -> dict[int, list]:
    """``{label: [(video, score, tube (L, 6) float32 [frame, x1, y1, x2, y2, box score])]}``,
    MMAction2's ``link_tubes`` (one-frame tubelets)."""
    videos = list(annos["test_videos"][0])
    labels = annos["labels"]
    # MMAction2 gives every box the score of the set's last detection (see the module notes)
    scores = dets[:, 3] if own_tube_scores else np.full(len(dets), dets[-1, 3])
    boxes = np.concatenate([dets[:, 4:8], scores[:, None]], axis=1)  # (n, 5)
    tubes = {label: [] for label in range(len(labels))}
    video_of = dets[:, 0].astype(np.int64)
    for iv, v in enumerate(videos):
        rows = np.nonzero(video_of == iv)[0]
        if len(rows) == 0:
            continue
        num_frames = int(annos["nframes"][v])
        frames = dets[rows, 1].astype(np.int64)
        bad = (frames < 1) | (frames > num_frames)
        if bad.any():
            raise ValueError(
                f"MultiSportsMetric: video {v!r} has {num_frames} frames; a detection is on "
                f"frame {int(frames[bad][0])}"
            )
        for label in range(len(labels)):
            mine = rows[dets[rows, 2].astype(np.int64) == label]
            if len(mine) == 0:
                continue  # no box of this class in the video: no tube
            per_frame = {}
            for f in np.unique(dets[mine, 1].astype(np.int64)):
                per_frame[int(f)] = boxes[mine[dets[mine, 1].astype(np.int64) == f]]
            for tube in _link_class(per_frame, num_frames):
                score = _tube_score(tube)
                if score < 0.005 or len(tube) < len_thre:
                    continue
                out = np.zeros((len(tube), 6), dtype=np.float32)
                out[:, 0] = [frame for frame, _ in tube]
                out[:, 1:] = np.array([box for _, box in tube])
                tubes[label].append((v, score, out))
    return tubes


def _tube_iou(gt: np.ndarray, det: np.ndarray):
    """Spatio-temporal IoU of two tubes (MultiSports' ``iou3dt_voc`` arithmetic)."""
    t_min = max(gt[0, 0], det[0, 0])
    t_max = min(gt[-1, 0], det[-1, 0])
    if t_max < t_min:
        return 0.0
    t_inter = t_max - t_min
    t_union = max(gt[-1, 0], det[-1, 0]) - min(gt[0, 0], det[0, 0])

    def span(tube):
        first = np.nonzero(tube[:, 0] == t_min)[0][0]
        return tube[first : np.nonzero(tube[:, 0] == t_max)[0][0] + 1, 1:5]

    a, b = span(gt), span(det)
    width = np.maximum(0, np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]))
    height = np.maximum(0, np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]))
    overlap = width * height
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.mean(overlap / (area_a + area_b - overlap)) * (t_inter / t_union)


class _VideoMatcher:
    """Tube IoUs of each class, computed once for all thresholds."""

    def __init__(self, annos: Mapping, tubes: Mapping[int, list]):
        self.entries = []  # (label, num_gt, tp-deciding [(ious or None)] in rank order)
        for label_idx, label in enumerate(annos["labels"]):
            if label in SKIPPED:
                continue
            gt = {}
            for v in annos["test_videos"][0]:
                found = annos["gttubes"][v].get(label_idx, [])
                if len(found):
                    gt[v] = found
            num_gt = sum(len(g) for g in gt.values())
            if num_gt == 0:
                continue
            dets = tubes.get(label_idx, [])
            order = np.argsort(-np.array([d[1] for d in dets]))
            ranked = []
            for j in order:
                v, _, tube = dets[j]
                ious = [_tube_iou(g, tube) for g in gt[v]] if v in gt else None
                ranked.append((v, ious))
            self.entries.append((label, num_gt, ranked))

    def video_map(self, thr: float) -> tuple[np.float64, dict]:
        raw = {}
        for label, num_gt, ranked in self.entries:
            tp, taken = np.zeros(len(ranked), dtype=bool), {}
            for i, (v, ious) in enumerate(ranked):
                if ious is None:
                    continue
                best = int(np.argmax(ious))
                used = taken.setdefault(v, np.zeros(len(ious), dtype=bool))
                if ious[best] >= thr and not used[best]:
                    tp[i] = used[best] = True
            raw[label] = _pr(tp, num_gt)
        return _mean(list(raw.values())), {label: ap * 100 for label, ap in raw.items()}


def video_map(annos: Mapping, tubes: Mapping[int, list], thr: float) -> tuple[np.float64, dict]:
    """Video mAP in percent at spatio-temporal IoU ``thr`` and each class's AP (percent)."""
    return _VideoMatcher(annos, tubes).video_map(thr)


def _range_map(matcher: _VideoMatcher, thresholds) -> np.float64:
    total = 0
    for thr in thresholds:
        total += matcher.video_map(thr)[0]
    return total / float(len(thresholds))


class MultiSportsMetric:
    """Frame and video mAP on MultiSports (MMAction2's ``MultiSportsMetric``): keys
    ``mAP/frameAP``, ``mAP/v_map@{thr}`` per video threshold and, with ``V_mAP.all``,
    ``mAP/v_map_0.05:0.45``, ``mAP/v_map_0.10:0.90``, ``mAP/v_map_0.50:0.95`` (percent,
    4 decimals).

    Args:
        ann_file: MultiSports' ground-truth pickle (``multisports_GT.pkl``).
        metric_options: ``F_mAP.thr`` (frame IoU), ``V_mAP.thr`` (tuple of tube IoUs),
            ``V_mAP.all`` (the three range means), ``V_mAP.tube_thr`` (least tube length).
        collect_device, prefix: MMEngine's (``prefix`` defaults to ``'mAP'``).
        verbose: log each class's AP.
        own_tube_scores: vidlab's: link tubes with each box's own score instead of MMAction2's
            (see the module notes); False reproduces MMAction2's numbers.

    After :meth:`compute`, ``class_ap`` holds the per-class APs of each result key.
    """

    def __init__(
        self,
        ann_file: str,
        metric_options: dict | None = None,
        collect_device: str = "cpu",
        verbose: bool = True,
        prefix: str | None = None,
        own_tube_scores: bool = False,
    ):
        from vidlab.checkpoint import load_pickle

        options = metric_options or dict(
            F_mAP=dict(thr=0.5), V_mAP=dict(thr=(0.2, 0.5), all=True, tube_thr=15)
        )
        self.metric_options = options
        self.ann_file = ann_file
        self.annos = load_pickle(ann_file, "MultiSports' ground-truth pickle")
        missing = {"labels", "test_videos", "nframes", "resolution", "gttubes"} - set(self.annos)
        if missing:
            raise ValueError(f"{ann_file}: not MultiSports' ground truth (no {sorted(missing)})")
        self.verbose = verbose
        self.prefix = prefix or "mAP"
        self.own_tube_scores = own_tube_scores
        self.class_ap: dict[str, dict] = {}

    def compute(self, results: Sequence[Mapping], ground_truth=None) -> dict:
        """The metrics of the whole set (``ground_truth`` is unused: it is ann_file's)."""
        options = self.metric_options
        dets = frame_detections(results, self.annos)
        out, self.class_ap = {}, {}
        f_map, self.class_ap["frameAP"] = frame_map(self.annos, dets, options["F_mAP"]["thr"])
        out["frameAP"] = round(f_map, 4)
        tubes = link_tubes(
            self.annos,
            dets,
            len_thre=options["V_mAP"]["tube_thr"],
            own_tube_scores=self.own_tube_scores,
        )
        matcher = _VideoMatcher(self.annos, tubes)
        for thr in options["V_mAP"]["thr"]:
            v_map, self.class_ap[f"v_map@{thr}"] = matcher.video_map(thr)
            out[f"v_map@{thr}"] = round(v_map, 4)
        if options["V_mAP"].get("all"):
            ranges = {  # MMAction2's threshold arithmetic, to the last bit
                "v_map_0.05:0.45": [0.05 + 0.05 * i for i in range(9)],
                "v_map_0.10:0.90": [0.1 + 0.1 * i for i in range(9)],
                "v_map_0.50:0.95": [0.5 + 0.05 * i for i in range(10)],
            }
            for key, thresholds in ranges.items():
                out[key] = round(_range_map(matcher, thresholds), 4)
        if self.verbose:
            for key, per_class in self.class_ap.items():
                for label, ap in per_class.items():
                    log.info("%s %-20s %8.2f", key, label, ap)
        return {f"{self.prefix}/{k}": float(v) for k, v in out.items()}

    def __repr__(self) -> str:
        return f"MultiSportsMetric(ann_file={self.ann_file!r})"
