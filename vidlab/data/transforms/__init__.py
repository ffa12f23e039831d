"""Data transforms: spatial (resize, crop, flip, on the frame helpers of ``frames``), colour, and

Names are re-exported lazily, so ``import vidlab.data.transforms`` imports no submodule (and no
torch) until a transform is used.
"""

from __future__ import annotations

_WHERE = {
    "Resize": "resize",
    "RandomRescale": "resize",
    "RandomCrop": "crop",
    "RandomResizedCrop": "crop",
    "MultiScaleCrop": "crop",
    "CenterCrop": "crop",
    "ThreeCrop": "crop",
    "TenCrop": "crop",
    "Flip": "flip",
    "Fuse": "lazy",
    "resize_frames": "resize",
    "rescale_size": "resize",
    "ColorJitter": "color",
    "RandomErasing": "color",
    "RandAugment": "color",
    "PytorchVideoWrapper": "pytorchvideo",
    "FormatShape": "formatting",
    "PackActionInputs": "formatting",
    "Transpose": "formatting",
    "LoadHVULabel": "formatting",
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
