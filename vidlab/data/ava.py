"""Spatio-temporal action detection data (AVA): MMAction2's ``AVADataset``, its label map and
``SampleAVAFrames``. ``AVAKineticsDataset`` is in :mod:`vidlab.data.ava_kinetics`.

Files (MMAction2's formats):

- annotation csv, one row per (box, action): ``video_id,timestamp,x1,y1,x2,y2,action_id,
  entity_id``; box corners normalised to [0, 1]; ``timestamp`` in seconds (frames where
  ``fps=1``, as MultiSports). Rows of one ``video_id,timestamp`` with the same box merge into
  one box with a multi-hot label (``num_classes`` columns, column 0 is the background);
- excluded timestamps csv: ``video_id,timestamp`` rows dropped from the dataset;
- label map pbtxt: ``item { name: "..." id: 1 }`` blocks (``label_id`` also read);
- proposals pickle: ``{'video_id,0902': float (n, 4) or (n, 5) [x1, y1, x2, y2, score]}``,
  normalised; read by vidlab's restricted unpickler.

A bad row is an :class:`AnnotationError` naming ``file:line`` and what is wrong, all at once.

Records and results dicts carry MMAction2's keys (``frame_dir`` or ``filename``, ``video_id``,
``timestamp``, ``img_key``, ``shot_info``, ``fps``, ``gt_bboxes``, ``gt_labels``,
``entity_ids``, ``proposals``, ``scores``, ``filename_tmpl``, ``timestamp_start``,
``timestamp_end``), so the pipeline's transforms (``SampleAVAFrames``, ``RawFrameDecode``,
box-aware ``RandomRescale``/``RandomCrop``/``Flip``/``Resize``, ``PackActionInputs``) work as
in MMAction2; the packed sample is described in :mod:`vidlab.data.transforms.formatting`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np

from vidlab.data.annotations import AnnotationError
from vidlab.data.datasets import BaseActionDataset, _join

__all__ = ["AVADataset", "SampleAVAFrames", "read_labelmap"]

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------------
def read_labelmap(labelmap_file) -> tuple[list[dict], set[int]]:
    """AVA's label map (pbtxt) without protobuf: ``([{'id': int, 'name': str}, ...], ids)``.

    Reads ``name: "..."`` then ``id: N`` (or ``label_id: N``) inside each block, as
    MMAction2's ``read_labelmap``; indentation is free.

    Args:
        labelmap_file: A path or an open text file.

    Raises:
        AnnotationError: an ``id`` that is not an integer, or a ``name`` without quotes
            (``file:line``).
    """
    if isinstance(labelmap_file, (str, os.PathLike)):
        path = os.fspath(labelmap_file)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: label map file does not exist")
        with open(path, encoding="utf-8") as f:
            return read_labelmap(f)
    path = getattr(labelmap_file, "name", "<label map>")
    labelmap, class_ids, problems = [], set(), []
    name = ""
    for lineno, line in enumerate(labelmap_file, 1):
        text = line.strip()
        if text.startswith("name:"):
            parts = text.split('"')
            if len(parts) < 3:
                problems.append(f'{path}:{lineno}: expected name: "..." in line {text!r}')
                continue
            name = parts[1]
        elif text.startswith(("id:", "label_id:")):
            try:
                class_id = int(text.split()[-1])
            except ValueError:
                problems.append(f"{path}:{lineno}: the id is not an integer in line {text!r}")
                continue
            labelmap.append({"id": class_id, "name": name})
            class_ids.add(class_id)
    if problems:
        raise AnnotationError(BaseActionDataset._problem_report(problems))
    return labelmap, class_ids


def _read_exclusions(path: str) -> set[tuple[str, int]]:
    """``{(video_id, timestamp)}`` of an excluded-timestamps csv."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: exclude file does not exist")
    out, problems = set(), []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            text = line.strip()
            if not text:
                continue
            cols = text.split(",")
            try:
                if len(cols) != 2:
                    raise ValueError(f"expected 'video_id,timestamp', found {len(cols)} column(s)")
                out.add((cols[0], int(cols[1])))
            except ValueError as e:
                msg = str(e) if "column" in str(e) else f"timestamp {cols[1]!r} is not an integer"
                problems.append(f"{path}:{lineno}: {msg} in line {text!r}")
    if problems:
        raise AnnotationError(BaseActionDataset._problem_report(problems))
    return out


def _parse_row(cols: list[str], num_classes: int, custom_classes) -> tuple | None:
    """One annotation row as ``(video_id, timestamp, box, label, entity_id)`` (``box``: a
    tuple of 4 floats); None when ``custom_classes`` leaves its action out. Plain Python, no
    NumPy per row: AVA's train csv has 837k rows."""
    if len(cols) < 8:
        raise ValueError(
            f"expected 8 columns 'video_id,timestamp,x1,y1,x2,y2,action_id,entity_id', found "
            f"{len(cols)}"
        )
    try:
        label = int(cols[6])
    except ValueError:
        raise ValueError(f"action_id {cols[6]!r} is not an integer") from None
    if custom_classes is not None:
        if label not in custom_classes:
            return None
        label = custom_classes.index(label)
    elif not 0 <= label < num_classes:
        raise ValueError(f"action_id {label} is outside 0..{num_classes - 1} (num_classes)")
    try:
        timestamp = int(cols[1])
    except ValueError:
        raise ValueError(f"timestamp {cols[1]!r} is not an integer") from None
    try:
        box = (float(cols[2]), float(cols[3]), float(cols[4]), float(cols[5]))
    except ValueError:
        raise ValueError(f"box {','.join(cols[2:6])!r} is not 4 numbers") from None
    x1, y1, x2, y2 = box
    if not (0 <= x1 <= x2 <= 1 and 0 <= y1 <= y2 <= 1):  # NaN fails too
        raise ValueError(
            f"box {','.join(cols[2:6])} is not x1,y1,x2,y2 normalised to [0, 1] with x1 <= x2, "
            "y1 <= y2"
        )
    try:
        entity_id = int(cols[7])
    except ValueError:
        raise ValueError(f"entity_id {cols[7]!r} is not an integer") from None
    return cols[0], timestamp, box, label, entity_id


def _add_row(boxes: dict, row: tuple) -> None:
    """Merge a row into its keyframe's ``{box: (entity_id, [labels])}`` (MMAction2's
    ``parse_img_record``: rows with equal boxes are one box; boxes in the order they first
    appear, with the first row's entity id)."""
    _, _, box, label, entity_id = row
    slot = boxes.get(box)
    if slot is None:
        boxes[box] = (entity_id, [label])
    else:
        slot[1].append(label)


def _check_single_labels(boxes: dict, where: str) -> None:
    for box, (_, labels) in boxes.items():
        if len(labels) != 1:
            raise AnnotationError(
                f"{where}: multilabel=False needs one action per box, but box {list(box)} "
                f"has {len(labels)} ({labels})"
            )


class _Keyframes(Sequence):
    """The records, kept as a few flat arrays (AVA's 210k keyframes: ~20 MB instead of
    ~460 MB of dicts, and nothing that DataLoader workers' copy-on-read duplicates); an item
    is the record dict: the video's fields, ``timestamp``, ``img_key``, ``ann`` (``gt_bboxes``
    float64 ``(n, 4)``, ``labels``: class-id tuples, ``entity_ids``), ``ann_line``.

    Args:
        ann_file: For ``ann_line``.
        videos: The per-video fields (``_video_record``).
        entries: Per keyframe: (video index, timestamp, first csv line, {box: (entity id,
            [labels])}).
    """

    def __init__(self, ann_file: str, videos: list[dict], entries: list[tuple]):
        self.ann_file = ann_file
        self.videos = videos
        self.video = np.array([e[0] for e in entries], dtype=np.int32)
        self.timestamp = np.array([e[1] for e in entries], dtype=np.int64)
        self.line = np.array([e[2] for e in entries], dtype=np.int64)
        self.box_start = np.cumsum([0] + [len(e[3]) for e in entries], dtype=np.int64)
        slots = [slot for e in entries for slot in e[3].values()]
        self.boxes = np.array([b for e in entries for b in e[3]], np.float64).reshape(-1, 4)
        self.entity_ids = np.array([entity for entity, _ in slots], dtype=np.int64)
        self.label_start = np.cumsum([0] + [len(ids) for _, ids in slots], dtype=np.int64)
        self.labels = np.array([i for _, ids in slots for i in ids], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.video)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = range(len(self))[i]  # negative indices, and IndexError past the end
        video = self.videos[self.video[i]]
        timestamp = int(self.timestamp[i])
        a, b = int(self.box_start[i]), int(self.box_start[i + 1])
        starts = self.label_start[a : b + 1].tolist()
        labels = self.labels[starts[0] : starts[-1]].tolist()
        rec = dict(video)
        rec["timestamp"] = timestamp
        rec["img_key"] = f"{video['video_id']},{timestamp:04d}"
        rec["ann"] = {
            "gt_bboxes": self.boxes[a:b].copy(),
            "labels": tuple(
                tuple(labels[s - starts[0] : e - starts[0]]) for s, e in zip(starts, starts[1:])
            ),
            "entity_ids": self.entity_ids[a:b].copy(),
        }
        rec["label"] = -1  # the boxes carry the labels
        rec["ann_line"] = f"{self.ann_file}:{int(self.line[i])}"
        return rec


def _label_array(labels: tuple, num_classes: int, multilabel: bool) -> np.ndarray:
    """MMAction2's ``gt_labels``: float32 ``(n, num_classes)`` multi-hot, or the int
    ``(n, 1)`` action ids with ``multilabel=False``."""
    if not multilabel:
        return np.array(labels)
    out = np.zeros((len(labels), num_classes), dtype=np.float32)
    for i, ids in enumerate(labels):
        out[i, list(ids)] = 1.0
    return out


def _select_proposals(
    proposals: np.ndarray, score_thr: float, num_max: int, where: str
) -> tuple[np.ndarray, np.ndarray | None]:
    """MMAction2's proposal selection: with scores, those >= min(thr, best score) (so at
    least the best one), then the first ``num_max``."""
    proposals = np.asarray(proposals)
    if proposals.ndim != 2 or proposals.shape[-1] not in (4, 5):
        raise ValueError(f"{where}: proposals must be (n, 4) or (n, 5), got {proposals.shape}")
    if proposals.shape[-1] == 5:
        thr = min(score_thr, max(proposals[:, 4]))
        proposals = proposals[proposals[:, 4] >= thr][:num_max]
        return proposals[:, :4], proposals[:, 4]
    return proposals[:num_max], None


# --------------------------------------------------------------------------------------------
# the dataset
# --------------------------------------------------------------------------------------------
class AVADataset(BaseActionDataset):
    """AVA-format spatio-temporal detection data (MMAction2's ``AVADataset``; see the module
    docstring for the files). One sample per annotated keyframe (``video_id,timestamp``).

    Args:
        ann_file: Annotation csv.
        pipeline: Transforms.
        exclude_file: Excluded-timestamps csv, or None.
        label_file: Label map pbtxt (needed with ``custom_classes``).
        filename_tmpl: Frame file names (``'img_{:05}.jpg'``).
        start_index: MMAction2's; it enters ``SampleAVAFrames``' arithmetic (see there).
        proposal_file: Proposals pickle, or None (then the packed ``proposals`` are the ground
            truth boxes, or the whole frame where there are none: MMAction2 needs a file).
        person_det_score_thr: Keep proposals scoring at least this (at least the best one).
        num_classes: Label columns (AVA: 80 actions + background column 0).
        custom_classes: Train on these action ids only (``num_classes = len + 1``); their
            labels become 1..len in this order.
        data_prefix: Folder of the frame folders (videos): ``dict(img=...)`` or a string.
        modality: ``'RGB'`` or ``'Flow'``.
        test_mode: Evaluation dataset.
        num_max_proposals: At most this many proposals per keyframe.
        timestamp_start, timestamp_end: The annotated span (seconds; AVA: 900-1800).
        use_frames: Frame folders (``frame_dir``) or videos (``filename``, MultiSports).
        fps: Frames per timestamp unit (1: timestamps count frames).
        multilabel: Multi-hot labels; False: one int action per box, ``(n, 1)``.
        **kwargs: ``on_error``, ``data_root``, ``indices`` and MMEngine's arguments, passed
            on to ``BaseActionDataset``.
    """

    _prefix_keys = ("img", "video", "prefix")

    def __init__(
        self,
        ann_file: str,
        pipeline,
        exclude_file: str | None = None,
        label_file: str | None = None,
        filename_tmpl: str = "img_{:05}.jpg",
        start_index: int = 1,
        proposal_file: str | None = None,
        person_det_score_thr: float = 0.9,
        num_classes: int = 81,
        custom_classes: Sequence[int] | None = None,
        data_prefix: str | dict | None = None,
        modality: str = "RGB",
        test_mode: bool = False,
        num_max_proposals: int = 1000,
        timestamp_start: int = 900,
        timestamp_end: int = 1800,
        use_frames: bool = True,
        fps: int = 30,
        multilabel: bool = True,
        **kwargs,
    ):
        if not 0 <= person_det_score_thr <= 1:
            raise ValueError(f"person_det_score_thr={person_det_score_thr} must be in [0, 1]")
        self._FPS = fps
        self.custom_classes = None
        if custom_classes is not None:
            custom_classes = [int(c) for c in custom_classes]
            if num_classes != len(custom_classes) + 1:
                raise ValueError(
                    f"num_classes={num_classes} with {len(custom_classes)} custom_classes: "
                    f"set num_classes={len(custom_classes) + 1} (the classes + background)"
                )
            if 0 in custom_classes:
                raise ValueError("custom_classes must not hold 0 (the background column)")
            if label_file is None:
                raise ValueError("custom_classes needs label_file (to check the class ids)")
            _, known = read_labelmap(label_file)
            unknown = sorted(set(custom_classes) - known)
            if unknown:
                raise ValueError(f"custom_classes {unknown} are not in the label map {label_file}")
            self.custom_classes = [0, *custom_classes]
        self.exclude_file = exclude_file
        self.label_file = label_file
        self.proposal_file = proposal_file
        self.person_det_score_thr = person_det_score_thr
        self.timestamp_start = timestamp_start
        self.timestamp_end = timestamp_end
        self.num_max_proposals = num_max_proposals
        self.filename_tmpl = filename_tmpl
        self.use_frames = use_frames
        self.multilabel = multilabel
        super().__init__(
            ann_file,
            pipeline,
            data_prefix=data_prefix,
            test_mode=test_mode,
            num_classes=num_classes,
            start_index=start_index,
            modality=modality,
            **kwargs,
        )
        self.proposals = self._load_proposals()

    # -- construction ------------------------------------------------------------------------
    def _load_proposals(self) -> dict | None:
        if self.proposal_file is None:
            return None
        from vidlab.checkpoint import load_pickle

        proposals = load_pickle(self.proposal_file, "an AVA proposals pickle")
        if not isinstance(proposals, dict):
            raise ValueError(
                f"{self.proposal_file}: expected a dict 'video_id,timestamp' -> (n, 4|5) array, "
                f"got {type(proposals).__name__}"
            )
        return proposals

    def _shot_info(self, video_id: str) -> tuple[int, int] | None:
        if not self.use_frames:
            return None  # videos: SampleAVAFrames reads total_frames off the decoder
        return (0, (self.timestamp_end - self.timestamp_start) * self._FPS)

    def _load(self) -> _Keyframes:
        if not os.path.isfile(self.ann_file):
            raise FileNotFoundError(f"{self.ann_file}: annotation file does not exist")
        by_key: dict[str, dict] = {}  # keyframe -> {box: (entity_id, [labels])}
        first_line: dict[str, int] = {}
        problems = []
        with open(self.ann_file, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                text = line.strip()
                if not text:
                    continue
                try:
                    row = _parse_row(text.split(","), self.num_classes, self.custom_classes)
                except ValueError as e:
                    problems.append(f"{self.ann_file}:{lineno}: {e} in line {text!r}")
                    continue
                if row is None:
                    continue
                key = f"{row[0]},{row[1]:04d}"
                boxes = by_key.get(key)
                if boxes is None:
                    boxes = by_key[key] = {}
                    first_line[key] = lineno
                _add_row(boxes, row)
        if problems:
            raise AnnotationError(self._problem_report(problems))
        if self.exclude_file is not None:
            excluded = {f"{v},{t:04d}" for v, t in _read_exclusions(self.exclude_file)}
            kept = [k for k in by_key if k not in excluded]
            log.info("%d out of %d frames are valid.", len(kept), len(by_key))
        else:
            kept = list(by_key)
        videos: dict[str, int] = {}
        video_records, entries = [], []
        for key in kept:
            video_id, timestamp = key.split(",")
            where = f"{self.ann_file}:{first_line[key]}"
            if video_id not in videos:
                videos[video_id] = len(video_records)
                video_records.append(self._video_record(video_id, where))
            if not self.multilabel:
                _check_single_labels(by_key[key], where)
            entries.append((videos[video_id], int(timestamp), first_line[key], by_key[key]))
        return _Keyframes(self.ann_file, video_records, entries)

    def _video_record(self, video_id: str, where: str) -> dict:
        """The fields of a record that are the video's."""
        source = "frame_dir" if self.use_frames else "filename"
        return {
            source: _join(self._prefix, video_id),
            "video_id": video_id,
            "shot_info": self._shot_info(video_id),
            "fps": self._FPS,
        }

    def _check_labels(self) -> None:
        pass  # checked row by row when loading (action ids against num_classes)

    def check_labels_against(self, num_classes, key: str, need_labels: bool) -> None:
        """The model must score as many classes as the labels have columns."""
        if num_classes is not None and int(num_classes) != self.num_classes:
            raise AnnotationError(
                f"{self.ann_file}: labels have {self.num_classes} columns (num_classes of the "
                f"dataset) but {key} has {num_classes} classes"
            )

    @property
    def num_classes(self) -> int:
        return int(self._num_classes)

    # -- items ---------------------------------------------------------------------------------
    def _proposal_key(self, info: dict) -> str:
        return info["img_key"]

    def _check_proposal_range(self, proposals: np.ndarray, key: str) -> None:
        if len(proposals) and (proposals.max() > 1 or proposals.min() < 0):
            raise ValueError(
                f"{self.proposal_file}: proposals of {key!r} are not normalised to [0, 1] "
                f"(min {proposals.min()}, max {proposals.max()})"
            )

    def get_data_info(self, idx: int) -> dict:
        """The results dict of sample ``idx`` (MMAction2's keys, see the module docstring)."""
        info = super().get_data_info(idx)
        info.pop("label", None)
        info["filename_tmpl"] = self.filename_tmpl
        info.setdefault("timestamp_start", self.timestamp_start)
        info.setdefault("timestamp_end", self.timestamp_end)
        if self.proposals is not None:
            key = self._proposal_key(info)
            found = self.proposals.get(key)
            if found is None or len(found) == 0:
                # MMAction2's rule for a keyframe without proposals: the whole frame
                info["proposals"] = np.array([[0, 0, 1, 1]])
                info["scores"] = np.array([1])
            else:
                where = f"{self.proposal_file}: {key!r}"
                boxes, scores = _select_proposals(
                    found, self.person_det_score_thr, self.num_max_proposals, where
                )
                info["proposals"] = boxes
                if scores is not None:
                    info["scores"] = scores
                self._check_proposal_range(boxes, key)
        ann = info.pop("ann")
        info["gt_bboxes"] = ann["gt_bboxes"].copy()
        info["gt_labels"] = _label_array(ann["labels"], self.num_classes, self.multilabel)
        info["entity_ids"] = ann["entity_ids"].copy()
        return info

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(ann_file={self.ann_file!r}, {len(self)} keyframes, "
            f"num_classes={self.num_classes}, on_error={self.on_error!r})"
        )


# --------------------------------------------------------------------------------------------
# sampling
# --------------------------------------------------------------------------------------------
class SampleAVAFrames:
    """The frames around a keyframe (MMAction2's ``SampleAVAFrames``), index for index.

    ``center = fps * (timestamp - timestamp_start) + start_index``; ``clip_len`` frames every
    ``frame_interval`` from ``center - (clip_len // 2) * frame_interval``, jittered in training
    by a random offset in ``[-frame_interval // 2, (frame_interval + 1) // 2)`` per frame (drawn
    in test mode too, so the random stream matches MMAction2's), clipped to ``shot_info``
    (``(0, total_frames)`` where a decoder's Init set ``total_frames``), then ``start_index`` is
    added once more. So AVA's keyframe 902 with 4x16 and ``start_index=1`` gives frames 30, 46,
    62, 78 (``start_index`` counted twice, as in MMAction2).

    The indices are the numbers in the frame files' names (frame folders) or 0-based frame
    positions (videos), exactly as MMAction2's decoders read them: ``start_index`` is already
    inside them, so this transform sets ``start_index`` to None for the decoder (which then
    counts from the source's own first frame).

    Args:
        clip_len: Frames per clip.
        frame_interval: Spacing of the frames.
        test_mode: No jitter.
    """

    def __init__(self, clip_len: int, frame_interval: int = 2, test_mode: bool = False):
        self.clip_len = clip_len
        self.frame_interval = frame_interval
        self.test_mode = test_mode

    def _get_clips(self, center_index: int, skip_offsets: np.ndarray, shot_info) -> np.ndarray:
        start = center_index - (self.clip_len // 2) * self.frame_interval
        end = center_index + ((self.clip_len + 1) // 2) * self.frame_interval
        frame_inds = list(range(start, end, self.frame_interval))
        if not self.test_mode:
            frame_inds = frame_inds + skip_offsets
        return np.clip(frame_inds, shot_info[0], shot_info[1] - 1)

    def __call__(self, results: dict) -> dict:
        fps = results["fps"]
        start_index = results.get("start_index") or 0
        if results.get("total_frames") is not None:
            shot_info = (0, results["total_frames"])
        else:
            shot_info = results.get("shot_info")
            if shot_info is None:
                raise ValueError(
                    "SampleAVAFrames: no 'total_frames' and no 'shot_info' in the results; put "
                    "a decoder's Init step (e.g. DecordInit) before it for videos"
                )
        center_index = fps * (results["timestamp"] - results["timestamp_start"]) + start_index
        # drawn in test mode too: the random stream stays MMAction2's
        skip_offsets = np.random.randint(
            -self.frame_interval // 2, (self.frame_interval + 1) // 2, size=self.clip_len
        )
        frame_inds = self._get_clips(center_index, skip_offsets, shot_info)
        results["frame_inds"] = np.array(frame_inds, dtype=np.int32) + start_index
        results["clip_len"] = self.clip_len
        results["frame_interval"] = self.frame_interval
        results["num_clips"] = 1
        results["crop_quadruple"] = np.array([0, 0, 1, 1], dtype=np.float32)
        # the indices already hold start_index (see the docstring)
        results["start_index"] = None
        results.pop("explicit_start_index", None)
        return results

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(clip_len={self.clip_len}, "
            f"frame_interval={self.frame_interval}, test_mode={self.test_mode})"
        )
