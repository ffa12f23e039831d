"""Skip markers of failing samples and the collate function that drops them.

A dataset with ``on_error='skip'`` returns a :class:`Skipped` marker for a sample it could not
load (never a random other sample): small and picklable, it carries the index, path, annotation
line and reason out of DataLoader workers. :func:`collate_skip_none` drops markers from the
batch and lists them in ``batch["skipped"]`` (a batch whose samples were all skipped has zero
clips), so the main process learns every skip; the engine logs each bad file once and writes
``<work_dir>/bad_samples.txt``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

__all__ = ["Skipped", "collate_skip_none"]

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


_RESULTS_INPUTS = ("imgs", "heatmap_imgs", "keypoint", "audios")


def _unpacked(x) -> bool:
    """A pipeline's results dict that no ``PackActionInputs`` packed."""
    return (
        isinstance(x, dict)
        and "clips" not in x
        and "inputs" not in x
        and any(k in x for k in _RESULTS_INPUTS)
    )


# Sample keys collated as lists: metadata, localization's per-video targets (segments,
# proposals: a different number per video) and detection's boxes and proposals.
_PER_SAMPLE = ("meta", "gt_instances", "proposals")


def collate_skip_none(batch: list) -> dict:
    """``default_collate`` of the samples, without the skipped ones, which it lists.

    :class:`Skipped` markers (and ``None``, from datasets of other libraries) are dropped from
    the batch; the markers go into ``batch["skipped"]`` (a list, empty when nothing was
    skipped). Items that are lists (``RepeatAugDataset``) are flattened into the batch; results
    dicts of a pipeline without ``PackActionInputs`` are packed here. ``meta`` (and
    localization's ``gt_instances``) stay lists, one item per sample. When every sample was
    skipped the batch has zero clips: ``clips``, ``label`` and ``index`` are empty tensors, and
    ``skipped`` says why; a training or evaluation loop skips it.
    """
    flat, skipped, anonymous = [], [], 0
    for item in batch:
        for x in item if isinstance(item, list) else [item]:
            if isinstance(x, Skipped):
                skipped.append(x)
            elif x is None:
                anonymous += 1
            elif _unpacked(x):
                from vidlab.data.transforms.formatting import pack_sample

                packed = pack_sample(x)
                if x.get("index") is not None:
                    packed["index"] = int(x["index"])
                flat.append(packed)
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
    # per-sample values whose sizes differ between samples stay lists (one item per sample)
    kept = {k: [x.pop(k) for x in flat] for k in _PER_SAMPLE if all(k in x for x in flat)}
    out = torch.utils.data.default_collate(flat)
    out.update(kept)
    out["skipped"] = skipped
    return out
