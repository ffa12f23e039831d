"""Inference on many inputs: decoded in DataLoader workers, batched, one JSON object each.

`expand_inputs` turns what a user types (videos, frame folders, folders of videos, list files,
URLs) into a list of sources; `infer_many` runs them through the model's test pipeline in
worker processes, stacks the views of `batch_size` inputs into one forward pass, and yields one
result dict per input, in input order. An input that cannot be read gives a result with its
``error`` (the run goes on; the command exits non-zero at the end): never a silent skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from vidlab.data.io.frames import IMAGE_CODECS
from vidlab.data.tools import VIDEO_EXTS
from vidlab.inference import (
    _test_pipeline,
    device_of,
    label_names_for,
    prepare_clips,
    scores_of,
)

__all__ = ["expand_inputs", "infer_many"]


def _is_frame_folder(path: Path) -> bool:
    return any(p.suffix.lower() in IMAGE_CODECS for p in path.iterdir() if p.is_file())


def expand_inputs(items: Iterable) -> list[str]:
    """The sources named by `items`, in order.

    Each item is a video file, a frame folder (a folder holding images), a folder of videos
    (searched recursively, sorted; a subfolder holding images counts as one frame folder), an
    http(s) URL, or a ``.txt`` list: one source per line, its first field, relative to the
    list's folder (MMAction2's ``path label`` lists work as they are).

    Raises:
        FileNotFoundError: An item is not a file, folder or URL; or a folder holds no videos.
    """
    from vidlab.data.io import source_kind

    sources: list[str] = []
    for item in items:
        text = os.fspath(item)
        kind = source_kind(text)
        path = Path(text)
        if kind == "url":
            sources.append(text)
        elif kind == "folder":
            if _is_frame_folder(path):
                sources.append(text)
                continue
            found = _videos_under(path)
            if not found:
                raise FileNotFoundError(
                    f"{text}: no videos ({', '.join(VIDEO_EXTS[:4])}, ...) or frame folders in it"
                )
            sources.extend(found)
        elif not path.is_file():
            raise FileNotFoundError(f"{text}: no such video, frame folder or list file")
        elif path.suffix.lower() == ".txt":
            for line in path.read_text().splitlines():
                fields = line.split()
                if fields and not fields[0].startswith("#"):
                    first = fields[0]
                    if source_kind(first) == "url" or os.path.isabs(first):
                        sources.append(first)
                    else:
                        sources.append(str(path.parent / first))
        else:
            sources.append(text)
    return sources


def _videos_under(folder: Path) -> list[str]:
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        here = Path(root)
        if here != folder and _is_frame_folder(here):
            found.append(root)
            dirs.clear()
            continue
        found.extend(str(here / f) for f in sorted(files) if Path(f).suffix.lower() in VIDEO_EXTS)
    return found


class _Inputs(Dataset):
    """Sources -> (index, clips or None, error or None); the pipeline runs in the worker."""

    def __init__(self, sources: list[str], pipeline_cfg: list):
        self.sources = sources
        self.pipeline_cfg = pipeline_cfg
        self._pipeline = None

    def __len__(self) -> int:
        return len(self.sources)

    def __getitem__(self, i: int):
        from vidlab.data.pipeline import Compose

        if self._pipeline is None:  # built in the worker, not pickled to it
            self._pipeline = Compose(self.pipeline_cfg)
        try:
            return i, prepare_clips(self._pipeline, self.sources[i]), None
        except Exception as err:  # reported per input, with its message
            return i, None, f"{type(err).__name__}: {err}"


def _collate(items):
    return items


def infer_many(
    model,
    inputs: Iterable,
    labels=None,
    top_k: int = 5,
    batch_size: int = 1,
    num_workers: int = 0,
    progress: bool = True,
) -> Iterator[dict]:
    """Classify many inputs; yield one result dict per input, in input order.

    Args:
        model: From `init_recognizer` (PyTorch or onnxruntime backend).
        inputs: Items for `expand_inputs` (files, folders, lists, URLs).
        labels: Label names (file or sequence), as in `inference_recognizer`.
        top_k: Labels per result.
        batch_size: Inputs per forward pass (all their views at once).
        num_workers: DataLoader worker processes decoding and transforming inputs.
        progress: Show a progress bar with ETA on stderr.

    Yields:
        ``{"input": source, "top_k": [{"label": name, "label_id": i, "score": p}, ...]}``
        with probabilities in [0, 1]; or ``{"input": source, "error": message}``.
    """
    from vidlab.progress import Progress

    sources = expand_inputs(inputs)
    loader = DataLoader(
        _Inputs(sources, _test_pipeline(model.cfg)),
        batch_size=batch_size,
        num_workers=num_workers,
        collate_fn=_collate,
    )
    device = device_of(model)
    names = None
    with Progress(len(sources), "infer", unit="video", enabled=progress) as bar:
        for items in loader:
            good = [(i, clips) for i, clips, err in items if err is None]
            results = {i: {"input": sources[i], "error": err} for i, _, err in items if err}
            for group in _same_shape_groups(good):
                clips = torch.cat([c for _, c in group])  # (B*V, C, T, H, W)
                with torch.inference_mode():
                    logits = model(clips.to(device))
                num_views = group[0][1].shape[0]
                scores = scores_of(model, logits, num_views).cpu()  # (B, K)
                if names is None:
                    names = label_names_for(model, labels, scores.shape[1])
                top = torch.topk(scores, min(top_k, scores.shape[1]), dim=1)
                for (i, _), values, indices in zip(group, top.values, top.indices):
                    results[i] = {
                        "input": sources[i],
                        "top_k": [
                            {"label": names[k], "label_id": k, "score": round(float(v), 6)}
                            for v, k in zip(values.tolist(), indices.tolist())
                        ],
                    }
            for i, _, _ in items:
                yield results[i]
            bar.update(len(items))


def _same_shape_groups(items):
    """Split (index, clips) pairs into runs whose clips stack (pipelines with a fixed crop make
    one run; a `keep_ratio` resize without a crop may make several)."""
    groups: dict[tuple, list] = {}
    for i, clips in items:
        groups.setdefault(tuple(clips.shape), []).append((i, clips))
    return list(groups.values())
