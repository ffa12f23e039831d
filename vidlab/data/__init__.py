"""Data: video reading (``vidlab.data.io``), sampling, transforms, datasets.

Importing this package is cheap: the names below are loaded on first use.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "probe": "vidlab.data.io",
    "read_frames": "vidlab.data.io",
    "open_video": "vidlab.data.io",
    "VideoInfo": "vidlab.data.io",
    "DecodeError": "vidlab.data.io",
    "VideoDataset": "vidlab.data.datasets",
    "RawframeDataset": "vidlab.data.datasets",
    "RepeatAugDataset": "vidlab.data.datasets",
    "AudioDataset": "vidlab.data.audio",
    "AVADataset": "vidlab.data.ava",
    "AVAKineticsDataset": "vidlab.data.ava_kinetics",
    "AnnotationError": "vidlab.data.annotations",
    "collate_skip_none": "vidlab.data.skipped",
    "Compose": "vidlab.data.pipeline",
}

__all__ = sorted(_WHERE)


def __getattr__(name):
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'vidlab.data' has no attribute {name!r}")
    return getattr(importlib.import_module(where), name)


def __dir__():
    return sorted(set(globals()) | set(_WHERE))
