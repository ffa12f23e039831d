"""Data transforms: spatial (resize, crops, flip), colour, and formatting.

Names are re-exported lazily, so ``import vidlab.data.transforms`` imports no submodule (and no
torch) until a transform is used.
"""

from __future__ import annotations

_WHERE = {
    "Resize": "spatial",
    "RandomRescale": "spatial",
    "RandomCrop": "spatial",
    "RandomResizedCrop": "spatial",
    "MultiScaleCrop": "spatial",
    "CenterCrop": "spatial",
    "ThreeCrop": "spatial",
    "TenCrop": "spatial",
    "Flip": "spatial",
    "resize_frames": "spatial",
    "rescale_size": "spatial",
    "ColorJitter": "color",
    "RandomErasing": "color",
    "RandAugment": "color",
    "FormatShape": "formatting",
    "PackActionInputs": "formatting",
    "pack_sample": "formatting",
}

__all__ = sorted(_WHERE)


def __getattr__(name):
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'vidlab.data.transforms' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{where}"), name)


def __dir__():
    return sorted(set(globals()) | set(_WHERE))
