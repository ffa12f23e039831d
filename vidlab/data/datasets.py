"""Datasets of annotation lists: ``VideoDataset``, ``RawframeDataset``, ``RepeatAugDataset``.

The annotation files are parsed by :class:`vidlab.data.annotations.AnnotationList` (a base of
:class:`BaseActionDataset`); the skip markers and :func:`collate_skip_none` live in
:mod:`vidlab.data.skipped`. ``AnnotationError``, ``Skipped`` and ``collate_skip_none`` are also
importable from here.

Each item is the packed sample of the data contract (``clips``, ``label``, ``index``,
``meta``) when the pipeline ends with ``PackActionInputs``; without it, the item is the results
dict itself (``filename``, ``frame_inds``, ``imgs``, ...), as in MMAction2, which is how a
pipeline is debugged. The loader's collate function packs such dicts, so training and testing
work either way.

Failing samples: with ``on_error='raise'`` (default) the exception propagates with a note naming
the annotation line; a missing file raises ``FileNotFoundError`` naming the file and the line.
With ``on_error='skip'`` the item is a :class:`Skipped` marker (see :mod:`vidlab.data.skipped`).
Failures are also logged once per file in the process that saw them and kept in
``dataset.bad_samples`` (path -> reason) of that process; :meth:`BaseActionDataset.write_bad_list`
saves those.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from vidlab.data.annotations import AnnotationError, AnnotationList
from vidlab.data.pipeline import Compose
from vidlab.data.skipped import Skipped, collate_skip_none

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


def _is_url(path: str) -> bool:
    return bool(re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", path))


def _join(prefix: str | None, path: str) -> str:
    return os.path.join(prefix, path) if prefix else path


class BaseActionDataset(AnnotationList, Dataset):
    """Common machinery of the annotation-list datasets.

    ``log_skips`` (True): log each skipped file once here; the engine sets it False on the
    datasets it loads, since it logs every skipped file itself, once, in the main process.

    Args:
        ann_file: annotation file (text, or ``.json`` with a list of records).
        pipeline: transforms (objects, callables or config dicts), or a ``Compose``.
        data_prefix: folder prepended to the paths: a string, or MMAction2's
            ``dict(video=...)`` / ``dict(img=...)``.
        test_mode: evaluation dataset (informational; samplers have their own test_mode).
        multi_class: several labels per line; the label becomes a multi-hot float vector.
        num_classes: number of classes; default: largest label + 1.
        start_index: number of the first frame. Left out (None): read off the files (0 for
            videos, a frame folder's lowest file number). Given: honoured as in MMAction2 (the
            clip starts at frame/file number ``start_index``); an error for a source whose
            first frame has a higher number.
        modality: ``'RGB'``, ``'Flow'`` or ``'Audio'`` (``vidlab.data.audio.AudioDataset``).
        on_error: ``'raise'`` or ``'skip'`` (see the module docstring).
        delimiter: column separator; ``' '`` splits on any whitespace.
        data_root: MMEngine's root joined to a relative ``ann_file`` and ``data_prefix``.
        indices: keep only the first ``n`` records (an int) or these record indices (a list).
        metainfo, serialize_data, lazy_init, max_refetch, filter_cfg: MMEngine's, accepted
            and without effect.

    The datasets built on this class take their own arguments first and pass the rest on
    (``**kwargs``), so each of these is declared, defaulted and checked here only.
    """

    log_skips = True

    def __init__(
        self,
        ann_file: str,
        pipeline: Sequence[dict | Callable] | Compose,
        data_prefix: str | dict | None = "",
        test_mode: bool = False,
        multi_class: bool = False,
        num_classes: int | None = None,
        start_index: int | None = None,
        modality: str = "RGB",
        on_error: str = "raise",
        delimiter: str = " ",
        data_root: str | None = None,
        indices: int | Sequence[int] | None = None,
        metainfo: dict | None = None,
        serialize_data: bool = True,
        lazy_init: bool = False,
        max_refetch: int = 1000,
        filter_cfg: dict | None = None,
    ):
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error={on_error!r}; expected 'raise' or 'skip'")
        if modality not in ("RGB", "Flow", "Audio", "Pose"):
            raise ValueError(f"modality={modality!r}; expected 'RGB', 'Flow', 'Audio' or 'Pose'")
        ann_file = os.fspath(ann_file)
        prefix = self._prefix_of(data_prefix)
        if data_root:
            if not os.path.isabs(ann_file) and not os.path.exists(ann_file):
                ann_file = os.path.join(data_root, ann_file)
            prefix = os.path.join(data_root, prefix) if prefix else data_root
        self.ann_file = ann_file
        self._prefix = prefix  # the folder joined to the annotation paths
        # MMAction2's attribute: a dict keyed by the kind of data, after data_root is joined
        self.data_prefix = {self._prefix_keys[0]: prefix}
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
        if self.start_index is not None:  # the user's: honoured, and checked against the files
            info["explicit_start_index"] = True
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
        """The packed sample, or the results dict of a pipeline without ``PackActionInputs``
        (packed later by the loader's collate function)."""
        if out is None:
            return None
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
        if self.log_skips and path not in self._reported:
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
        multi_class, num_classes, start_index, modality, test_mode, delimiter: see
            :class:`BaseActionDataset`.
        **kwargs: ``on_error``, ``data_root``, ``indices`` and MMEngine's arguments, passed
            on to :class:`BaseActionDataset`.
    """

    def __init__(
        self,
        ann_file: str,
        pipeline,
        data_prefix: str | dict | None = "",
        multi_class: bool = False,
        num_classes: int | None = None,
        start_index: int | None = None,
        modality: str = "RGB",
        test_mode: bool = False,
        delimiter: str = " ",
        **kwargs,
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
            delimiter=delimiter,
            **kwargs,
        )

    def parse_line(self, cols: list[str]) -> dict:
        label = self._labels_from(cols[1:], "'path label' (2 columns)")
        return {"filename": _join(self._prefix, cols[0]), "label": label}

    def parse_record(self, item: dict) -> dict:
        filename = item.pop("filename")
        label = item.pop("label", -1)
        if isinstance(label, list) and not self.multi_class:
            raise ValueError("a list of labels needs multi_class=True")
        return {"filename": _join(self._prefix, filename), "label": label, **item}


class RawframeDataset(BaseActionDataset):
    """Frame folders listed as ``frame_dir total_frames label`` lines
    (``frame_dir offset total_frames label`` with ``with_offset``).

    The folder's own file names win over ``filename_tmpl`` when they disagree, and its file
    count over ``total_frames`` (except with ``with_offset``, where the clip is checked to fit
    in the folder). ``start_index`` left out is read off the files; given, it is honoured.

    Args:
        filename_tmpl: image name template, ``'img_{:05}.jpg'`` (flow: ``'{}_{:05d}.jpg'``).
        with_offset: lines carry the offset of the clip's first frame in its folder.
        start_index: number of the clip's first image file; None (default): the folder's
            lowest number (MMAction2's default is 1, which loses a frame of folders numbered
            from 0; given explicitly it is honoured as in MMAction2).
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
        start_index: int | None = None,
        modality: str = "RGB",
        test_mode: bool = False,
        delimiter: str = " ",
        sample_by_class: bool = False,
        power: float = 0.0,
        dynamic_length: bool = False,
        **kwargs,
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
            delimiter=delimiter,
            **kwargs,
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
        rec = {"frame_dir": _join(self._prefix, cols[0])}
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
        rec = {"frame_dir": _join(self._prefix, item.pop("frame_dir"))}
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
        test_mode: bool = False,
        **kwargs,
    ):
        super().__init__(ann_file, pipeline, data_prefix=data_prefix, test_mode=False, **kwargs)
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
