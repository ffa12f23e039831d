"""Datasets of annotation lists: ``VideoDataset``, ``RawframeDataset``, ``RepeatAugDataset``.

Annotation files are MMAction2's: one sample per line, columns split by ``delimiter``
(whitespace by default). Problems in the file are reported at construction as
``file:line: <problem> in line '<text>'``, all of them at once.

Each item is the packed sample of the data contract (``clips``, ``label``, ``index``,
``meta``); a pipeline that does not end with ``PackActionInputs`` is packed automatically.

Failing samples: with ``on_error='raise'`` (default) the exception propagates with a note naming
the annotation line; a missing file raises ``FileNotFoundError`` naming the file and the line.
With ``on_error='skip'`` the item is a :class:`Skipped` marker (never a random other sample):
small and picklable, it carries the index, path, annotation line and reason out of DataLoader
workers. :func:`collate_skip_none` drops markers from the batch and lists them in
``batch["skipped"]`` (a batch whose samples were all skipped has zero clips), so the main
process learns every skip; the engine logs each bad file once and writes
``<work_dir>/bad_samples.txt``. Failures are also logged once per file in the process that saw
them and kept in ``dataset.bad_samples`` (path -> reason) of that process;
:meth:`BaseActionDataset.write_bad_list` saves those.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from vidlab.data.pipeline import Compose

__all__ = [
    "AnnotationError",
    "BaseActionDataset",
    "VideoDataset",
    "RawframeDataset",
    "RepeatAugDataset",
    "Skipped",
    "collate_skip_none",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Skipped:
    """What a dataset with ``on_error='skip'`` returns for a sample it could not load.

    Attributes:
        index: the dataset index.
        path: the video file or frame folder.
        reason: ``"<ExceptionType>: <message>"``.
        where: the annotation ``file:line`` of the sample.
    """

    index: int
    path: str
    reason: str
    where: str = ""


class AnnotationError(ValueError):
    """Problems in an annotation file; the message lists each as ``file:line: problem``."""


def _is_url(path: str) -> bool:
    return bool(re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", path))


def _join(prefix: str | None, path: str) -> str:
    return os.path.join(prefix, path) if prefix else path


class BaseActionDataset(Dataset):
    """Common machinery of the annotation-list datasets.

    Args:
        ann_file: annotation file (text, or ``.json`` with a list of records).
        pipeline: transforms (objects, callables or config dicts), or a ``Compose``.
        data_prefix: folder prepended to the paths: a string, or MMAction2's
            ``dict(video=...)`` / ``dict(img=...)``.
        test_mode: evaluation dataset (informational; samplers have their own test_mode).
        multi_class: several labels per line; the label becomes a multi-hot float vector.
        num_classes: number of classes; default: largest label + 1.
        start_index: number of the first frame (0 for videos; frame folders: read off files).
        modality: ``'RGB'`` or ``'Flow'``.
        on_error: ``'raise'`` or ``'skip'`` (see the module docstring).
        delimiter: column separator; ``' '`` splits on any whitespace.
        data_root: MMEngine's root joined to a relative ``ann_file`` and ``data_prefix``.
        indices: keep only the first ``n`` records (an int) or these record indices (a list).
    """

    _prefix_keys: tuple[str, ...] = ("video", "prefix")

    def __init__(
        self,
        ann_file: str,
        pipeline: Sequence[dict | Callable] | Compose,
        data_prefix: str | dict | None = "",
        test_mode: bool = False,
        multi_class: bool = False,
        num_classes: int | None = None,
        start_index: int = 0,
        modality: str = "RGB",
        on_error: str = "raise",
        delimiter: str = " ",
        data_root: str | None = None,
        indices: int | Sequence[int] | None = None,
    ):
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error={on_error!r}; expected 'raise' or 'skip'")
        if modality not in ("RGB", "Flow"):
            raise ValueError(f"modality={modality!r}; expected 'RGB' or 'Flow'")
        ann_file = os.fspath(ann_file)
        prefix = self._prefix_of(data_prefix)
        if data_root:
            if not os.path.isabs(ann_file) and not os.path.exists(ann_file):
                ann_file = os.path.join(data_root, ann_file)
            prefix = os.path.join(data_root, prefix) if prefix else data_root
        self.ann_file = ann_file
        self.data_prefix = prefix
        self.test_mode = test_mode
        self.multi_class = multi_class
        self.start_index = start_index
        self.modality = modality
        self.on_error = on_error
        self.delimiter = delimiter
        self.pipeline = pipeline if isinstance(pipeline, Compose) else Compose(pipeline)
        self.bad_samples: dict[str, str] = {}
        self._reported: set[str] = set()
        self._num_classes = num_classes
        self._records = self._load()
        if indices is not None:
            keep = range(min(indices, len(self._records))) if isinstance(indices, int) else indices
            self._records = [self._records[i] for i in keep]
        self._check_labels()

    # -- annotations -------------------------------------------------------------------------
    def _prefix_of(self, data_prefix) -> str:
        if data_prefix is None:
            return ""
        if isinstance(data_prefix, dict):
            for key in self._prefix_keys:
                if data_prefix.get(key):
                    return os.fspath(data_prefix[key])
            return ""
        return os.fspath(data_prefix)

    def _load(self) -> list[dict]:
        if not os.path.isfile(self.ann_file):
            raise FileNotFoundError(f"{self.ann_file}: annotation file does not exist")
        if self.ann_file.endswith(".json"):
            return self._load_json()
        records, problems = [], []
        with open(self.ann_file, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                text = line.rstrip("\r\n")
                if not text.strip():
                    continue
                cols = (
                    text.split()
                    if self.delimiter == " "
                    else [c.strip() for c in text.strip().split(self.delimiter)]
                )
                try:
                    rec = self.parse_line(cols)
                except ValueError as e:
                    problems.append(f"{self.ann_file}:{lineno}: {e} in line {text!r}")
                    continue
                rec["ann_line"] = f"{self.ann_file}:{lineno}"
                rec["ann_text"] = text
                records.append(rec)
        if problems:
            raise AnnotationError(self._problem_report(problems))
        return records

    def _load_json(self) -> list[dict]:
        with open(self.ann_file, encoding="utf-8") as f:
            try:
                items = json.load(f)
            except json.JSONDecodeError as e:
                raise AnnotationError(
                    f"{self.ann_file}:{e.lineno}: invalid JSON ({e.msg})"
                ) from None
        if isinstance(items, dict) and "data_list" in items:  # MMEngine's format
            items = items["data_list"]
        if not isinstance(items, list):
            raise AnnotationError(f"{self.ann_file}: expected a JSON list of records")
        records, problems = [], []
        for i, item in enumerate(items):
            try:
                rec = self.parse_record(dict(item))
            except (ValueError, TypeError, KeyError) as e:
                problems.append(f"{self.ann_file}: item {i}: {e} in {item!r}")
                continue
            rec["ann_line"] = f"{self.ann_file}: item {i}"
            records.append(rec)
        if problems:
            raise AnnotationError(self._problem_report(problems))
        return records

    @staticmethod
    def _problem_report(problems: list[str]) -> str:
        head = f"{len(problems)} problem(s) in the annotation file:\n" if len(problems) > 1 else ""
        shown = problems[:50]
        more = f"\n... and {len(problems) - 50} more" if len(problems) > 50 else ""
        return head + "\n".join(shown) + more

    @staticmethod
    def _int_label(s: str) -> int:
        try:
            v = int(s)
        except ValueError:
            raise ValueError(f"bad label {s!r} (not an integer)") from None
        if v < 0:
            raise ValueError(f"bad label {v} (negative)")
        return v

    def _labels_from(self, cols: Sequence[str], what: str):
        if not cols:
            return -1  # a list for inference, without labels
        if self.multi_class:
            return [self._int_label(c) for c in cols]
        if len(cols) > 1:
            raise ValueError(
                f"expected {what} but found {len(cols) - 1} extra column(s) "
                "(several labels need multi_class=True; paths with spaces need another delimiter)"
            )
        return self._int_label(cols[0])

    def parse_line(self, cols: list[str]) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def parse_record(self, item: dict) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_labels(self) -> None:
        top = -1
        for lab in self.labels:
            top = max([top, *lab] if isinstance(lab, list) else [top, lab])
        self._max_label = top
        k = self._num_classes
        if k is None:
            return
        problems = []
        for rec in self._records:
            labels = rec["label"] if isinstance(rec["label"], list) else [rec["label"]]
            bad = [v for v in labels if v >= k]
            if bad:
                where = rec["ann_line"]
                text = rec.get("ann_text")
                problems.append(
                    f"{where}: label {bad[0]} >= num_classes={k}"
                    + (f" in line {text!r}" if text is not None else "")
                )
        if problems:
            raise AnnotationError(self._problem_report(problems))

    # -- properties ---------------------------------------------------------------------------
    @property
    def records(self) -> list[dict]:
        """The parsed annotation records (paths joined with the prefix)."""
        return self._records

    @property
    def labels(self) -> list:
        """Label of each record: an int (``-1`` when the line has none) or a list (multi-class)."""
        return [r["label"] for r in self._records]

    @property
    def num_classes(self) -> int:
        """The given ``num_classes``, or the largest label + 1."""
        if self._num_classes is not None:
            return int(self._num_classes)
        return self._max_label + 1

    @property
    def class_counts(self) -> list[int]:
        """Number of records of each class (a multi-class record counts for each of its labels)."""
        counts = [0] * self.num_classes
        for lab in self.labels:
            for v in lab if isinstance(lab, list) else [lab]:
                if v >= 0:
                    counts[v] += 1
        return counts

    def __len__(self) -> int:
        return len(self._records)

    # -- items --------------------------------------------------------------------------------
    def _source_path(self, rec: dict) -> str | None:
        return rec.get("filename", rec.get("frame_dir"))

    def get_data_info(self, idx: int) -> dict:
        """The results dict a pipeline starts from."""
        rec = self._records[idx]
        info = {
            k: (list(v) if isinstance(v, list) else v) for k, v in rec.items() if k != "ann_text"
        }
        info["modality"] = self.modality
        info["start_index"] = self.start_index
        info["index"] = idx
        info["sample_idx"] = idx
        if self.multi_class and isinstance(info["label"], list):
            onehot = torch.zeros(self.num_classes)
            onehot[info["label"]] = 1.0
            info["label"] = onehot
        return info

    def _check_exists(self, rec: dict) -> None:
        path = self._source_path(rec)
        if isinstance(path, str) and not _is_url(path) and not os.path.exists(path):
            alt = path + ".mp4" if "filename" in rec and not os.path.splitext(path)[1] else None
            if alt and os.path.exists(alt):
                return
            what = "frame folder" if "frame_dir" in rec else "video file"
            raise FileNotFoundError(f"{path}: {what} does not exist (listed at {rec['ann_line']})")

    def _run(self, idx: int):
        info = self.get_data_info(idx)
        self._check_exists(self._records[idx])
        out = self.pipeline(info)
        return self._pack(out, idx)

    @staticmethod
    def _pack(out, idx: int):
        if out is None:
            return None
        if "clips" not in out and "inputs" not in out:
            from vidlab.data.transforms.formatting import pack_sample

            out = pack_sample(out)
        out["index"] = idx
        return out

    def _failed(self, idx: int, e: BaseException):
        rec = self._records[idx]
        path = str(self._source_path(rec))
        if self.on_error == "raise":
            if not (isinstance(e, FileNotFoundError) and rec["ann_line"] in str(e)):
                e.add_note(f"while loading sample {idx} ({path}) listed at {rec['ann_line']}")
            raise e
        reason = f"{type(e).__name__}: {e}".replace("\n", " ")
        self.bad_samples[path] = reason
        if path not in self._reported:
            self._reported.add(path)
            log.warning(
                "skipped sample %d %s (listed at %s): %s", idx, path, rec["ann_line"], reason
            )
        return Skipped(idx, path, reason, rec["ann_line"])

    def __getitem__(self, idx: int):
        try:
            out = self._run(idx)
        except Exception as e:
            return self._failed(idx, e)
        if out is None or (isinstance(out, list) and not out):
            # MMEngine's "a transform returned None": the sample is dropped, and said so
            rec = self._records[idx]
            return Skipped(
                idx, str(self._source_path(rec)), "the pipeline returned None", rec["ann_line"]
            )
        return out

    def write_bad_list(self, path: str) -> int:
        """Write ``path<TAB>reason`` for each skipped sample seen in this process; returns the count."""
        with open(path, "w", encoding="utf-8") as f:
            for p, reason in sorted(self.bad_samples.items()):
                f.write(f"{p}\t{reason}\n")
        return len(self.bad_samples)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(ann_file={self.ann_file!r}, {len(self)} samples, "
            f"num_classes={self.num_classes}, on_error={self.on_error!r})"
        )


class VideoDataset(BaseActionDataset):
    """Videos listed as ``path label`` lines (``path l1 l2 ...`` with ``multi_class``; ``path``
    alone for unlabeled lists, label -1).

    Args:
        ann_file: the list.
        pipeline: transforms.
        data_prefix: ``''``, a folder, or ``dict(video=folder)``.
        multi_class, num_classes, start_index, modality, test_mode, delimiter, on_error,
        data_root, indices: see :class:`BaseActionDataset`.
        metainfo, serialize_data, lazy_init, max_refetch, filter_cfg: MMEngine's, accepted
            and without effect.
    """

    def __init__(
        self,
        ann_file: str,
        pipeline,
        data_prefix: str | dict | None = "",
        multi_class: bool = False,
        num_classes: int | None = None,
        start_index: int = 0,
        modality: str = "RGB",
        test_mode: bool = False,
        delimiter: str = " ",
        on_error: str = "raise",
        data_root: str | None = None,
        indices: int | Sequence[int] | None = None,
        metainfo: dict | None = None,
        serialize_data: bool = True,
        lazy_init: bool = False,
        max_refetch: int = 1000,
        filter_cfg: dict | None = None,
    ):
        super().__init__(
            ann_file,
            pipeline,
            data_prefix=data_prefix,
            test_mode=test_mode,
            multi_class=multi_class,
            num_classes=num_classes,
            start_index=start_index,
            modality=modality,
            on_error=on_error,
            delimiter=delimiter,
            data_root=data_root,
            indices=indices,
        )

    def parse_line(self, cols: list[str]) -> dict:
        label = self._labels_from(cols[1:], "'path label' (2 columns)")
        return {"filename": _join(self.data_prefix, cols[0]), "label": label}

    def parse_record(self, item: dict) -> dict:
        filename = item.pop("filename")
        label = item.pop("label", -1)
        if isinstance(label, list) and not self.multi_class:
            raise ValueError("a list of labels needs multi_class=True")
        return {"filename": _join(self.data_prefix, filename), "label": label, **item}


class RawframeDataset(BaseActionDataset):
    """Frame folders listed as ``frame_dir total_frames label`` lines
    (``frame_dir offset total_frames label`` with ``with_offset``).

    The folder's own file names win over ``filename_tmpl`` and ``start_index`` when they
    disagree, and its file count over ``total_frames`` (except with ``with_offset``, where the
    clip is checked to fit in the folder).

    Args:
        filename_tmpl: image name template, ``'img_{:05}.jpg'`` (flow: ``'{}_{:05d}.jpg'``).
        with_offset: lines carry the offset of the clip's first frame in its folder.
        start_index: number of the first image file (MMAction2's default 1).
        sample_by_class, power, dynamic_length: MMAction2 0.x's, accepted and without effect.
        Other arguments as :class:`VideoDataset`; ``data_prefix`` may be ``dict(img=folder)``.
    """

    _prefix_keys = ("img", "video", "prefix")

    def __init__(
        self,
        ann_file: str,
        pipeline,
        data_prefix: str | dict | None = "",
        filename_tmpl: str = "img_{:05}.jpg",
        with_offset: bool = False,
        multi_class: bool = False,
        num_classes: int | None = None,
        start_index: int = 1,
        modality: str = "RGB",
        test_mode: bool = False,
        delimiter: str = " ",
        on_error: str = "raise",
        data_root: str | None = None,
        indices: int | Sequence[int] | None = None,
        metainfo: dict | None = None,
        serialize_data: bool = True,
        lazy_init: bool = False,
        max_refetch: int = 1000,
        filter_cfg: dict | None = None,
        sample_by_class: bool = False,
        power: float = 0.0,
        dynamic_length: bool = False,
    ):
        self.filename_tmpl = filename_tmpl
        self.with_offset = with_offset
        super().__init__(
            ann_file,
            pipeline,
            data_prefix=data_prefix,
            test_mode=test_mode,
            multi_class=multi_class,
            num_classes=num_classes,
            start_index=start_index,
            modality=modality,
            on_error=on_error,
            delimiter=delimiter,
            data_root=data_root,
            indices=indices,
        )

    def parse_line(self, cols: list[str]) -> dict:
        n_num = 2 if self.with_offset else 1
        layout = (
            "'frame_dir offset total_frames label'"
            if self.with_offset
            else "'frame_dir total_frames label'"
        )
        if len(cols) < 1 + n_num:
            raise ValueError(f"expected {layout} but found {len(cols)} column(s)")
        rec = {"frame_dir": _join(self.data_prefix, cols[0])}
        nums = []
        for name, s in zip(
            ("offset", "total_frames") if self.with_offset else ("total_frames",),
            cols[1 : 1 + n_num],
        ):
            try:
                nums.append(int(s))
            except ValueError:
                raise ValueError(f"bad {name} {s!r} (not an integer)") from None
        if self.with_offset:
            rec["offset"] = nums[0]
            if nums[0] < 0:
                raise ValueError(f"bad offset {nums[0]} (negative)")
        rec["total_frames"] = nums[-1]
        if nums[-1] <= 0:
            raise ValueError(f"bad total_frames {nums[-1]} (must be > 0)")
        rec["label"] = self._labels_from(cols[1 + n_num :], layout)
        return rec

    def parse_record(self, item: dict) -> dict:
        rec = {"frame_dir": _join(self.data_prefix, item.pop("frame_dir"))}
        rec["total_frames"] = int(item.pop("total_frames"))
        if "offset" in item:
            rec["offset"] = int(item.pop("offset"))
        rec["label"] = item.pop("label", -1)
        rec.update(item)
        return rec

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        info["filename_tmpl"] = self.filename_tmpl
        return info


class RepeatAugDataset(VideoDataset):
    """Repeated augmentation (Hoffer et al., 2019): each item is ``num_repeats`` samples of one
    video, decoded once.

    The pipeline must be ``[Init?, sampler, decode, ...]`` (MMAction2 requires
    ``DecordInit, SampleFrames, DecordDecode``; any Init/decode of vidlab works). An item is a
    list of ``num_repeats`` samples; :func:`collate_skip_none` flattens them into the batch.

    Args:
        num_repeats: samples per video.
        sample_once: use the same frame indices for every repeat.
        Other arguments as :class:`VideoDataset` (``test_mode`` is always False).
    """

    def __init__(
        self,
        ann_file: str,
        pipeline,
        data_prefix: str | dict | None = "",
        num_repeats: int = 4,
        sample_once: bool = False,
        multi_class: bool = False,
        num_classes: int | None = None,
        start_index: int = 0,
        modality: str = "RGB",
        test_mode: bool = False,
        delimiter: str = " ",
        on_error: str = "raise",
        data_root: str | None = None,
        indices: int | Sequence[int] | None = None,
        metainfo: dict | None = None,
        serialize_data: bool = True,
        lazy_init: bool = False,
        max_refetch: int = 1000,
        filter_cfg: dict | None = None,
    ):
        super().__init__(
            ann_file,
            pipeline,
            data_prefix=data_prefix,
            multi_class=multi_class,
            num_classes=num_classes,
            start_index=start_index,
            modality=modality,
            test_mode=False,
            delimiter=delimiter,
            on_error=on_error,
            data_root=data_root,
            indices=indices,
        )
        self.num_repeats = num_repeats
        self.sample_once = sample_once
        self._split = self._split_pipeline()

    def _split_pipeline(self) -> tuple[int, int]:
        from vidlab.data.loading import VideoDecode
        from vidlab.data.sampling import (
            SampleFrames,
            UniformSample,
            UniformSampleFrames,
        )

        ts = self.pipeline.transforms
        samplers = (SampleFrames, UniformSample, UniformSampleFrames)
        s = next((i for i, t in enumerate(ts) if isinstance(t, samplers)), None)
        d = next((i for i, t in enumerate(ts) if isinstance(t, VideoDecode)), None)
        if (
            s is None
            or d is None
            or d < s
            or any(isinstance(t, VideoDecode) for t in ts[s + 1 : d])
        ):
            names = [type(t).__name__ for t in ts]
            raise ValueError(
                "RepeatAugDataset needs a pipeline of [Init, sampler, decode, ...] (e.g. "
                f"DecordInit, SampleFrames, DecordDecode, ...); got {names}"
            )
        return s, d

    def _run(self, idx: int):
        s, d = self._split
        ts = self.pipeline.transforms
        info = self.get_data_info(idx)
        self._check_exists(self._records[idx])
        for t in ts[:s]:  # Init
            info = t(info)
        if info.get("total_frames") is None:
            from vidlab.data.loading import ensure_source_info

            ensure_source_info(info)
        fake = {k: info[k] for k in ("total_frames", "start_index", "avg_fps") if k in info}
        sampler = ts[s]
        inds_list = []
        sampled = None
        for _ in range(self.num_repeats):
            if sampled is None or not self.sample_once:
                sampled = sampler(dict(fake))
            inds_list.append(np.asarray(sampled["frame_inds"]).reshape(-1))
        for k, v in sampled.items():
            info[k] = v
        bounds = np.cumsum([0] + [len(x) for x in inds_list])
        info["frame_inds"] = np.concatenate(inds_list)
        for t in ts[s + 1 : d + 1]:
            info = t(info)
        imgs = info.pop("imgs")
        out = []
        for r in range(self.num_repeats):
            one = dict(info)
            one["imgs"] = imgs[bounds[r] : bounds[r + 1]]
            one["frame_inds"] = inds_list[r]
            for t in ts[d + 1 :]:
                one = t(one)
                if one is None:
                    break
            packed = self._pack(one, idx)
            if packed is not None:
                out.append(packed)
        return out


def collate_skip_none(batch: list) -> dict:
    """``default_collate`` of the samples, without the skipped ones, which it lists.

    :class:`Skipped` markers (and ``None``, from datasets of other libraries) are dropped from
    the batch; the markers go into ``batch["skipped"]`` (a list, empty when nothing was
    skipped). Items that are lists (``RepeatAugDataset``) are flattened into the batch. When
    every sample was skipped the batch has zero clips: ``clips``, ``label`` and ``index`` are
    empty tensors, and ``skipped`` says why; a training or evaluation loop skips it.
    """
    flat, skipped, anonymous = [], [], 0
    for item in batch:
        for x in item if isinstance(item, list) else [item]:
            if isinstance(x, Skipped):
                skipped.append(x)
            elif x is None:
                anonymous += 1
            else:
                flat.append(x)
    if anonymous:
        log.warning("dropped %d sample(s) that the dataset returned as None", anonymous)
    if not flat:
        empty = torch.empty(0, dtype=torch.int64)
        return {
            "clips": torch.empty(0, dtype=torch.uint8),
            "label": empty,
            "index": empty.clone(),
            "skipped": skipped,
        }
    out = torch.utils.data.default_collate(flat)
    out["skipped"] = skipped
    return out
