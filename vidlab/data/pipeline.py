"""``Compose``: run a list of transforms over a results dict."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence

__all__ = ["Compose", "build_transform"]


def build_transform(t, key_path: str = ""):
    """A transform object from a config dict (built with ``vidlab.config.build``) or a callable."""
    if isinstance(t, dict):
        from vidlab.config import build

        return build(t, key_path=key_path)
    if callable(t):
        return t
    raise TypeError(
        f"{key_path or 'pipeline step'}: a transform must be a dict with 'type' or a callable, got {type(t).__name__}"
    )


class Compose:
    """Apply ``transforms`` in order.

    Args:
        transforms: transform objects, callables, or config dicts with ``type``.
        fuse_resize: where a decode step (``VideoDecode``, ``PyAVDecode``, ``DecordDecode``,
            ``RawFrameDecode``, ...) is directly followed by a short-side
            ``Resize(scale=(-1, S), keep_ratio=True)`` (or ``(S, -1)``) with bilinear
            interpolation, give the decode step ``short_side=S`` and drop the ``Resize``. For
            sources whose short side is at least 2.5x S the decoder scales while converting to
            RGB (FFmpeg's scaler: no full-size RGB frames; 3.5x faster at 1080p), and pixels
            differ slightly (FFmpeg's bilinear filters when shrinking, where ``Resize``
            samples); for smaller ones it resizes after the conversion as ``Resize`` does. The
            results carry the same ``img_shape``, ``scale_factor`` and ``keep_ratio`` as with
            the ``Resize``. ``fused`` lists the (decode, Resize) pairs that were fused.

    A transform that returns ``None`` ends the pipeline with ``None`` (as MMEngine's Compose).
    An exception raised by a transform propagates unchanged, with a note naming the step
    (index and class).
    """

    def __init__(self, transforms: Sequence[dict | Callable] | None, fuse_resize: bool = True):
        if isinstance(transforms, Compose):
            transforms = transforms.transforms
        built = [
            build_transform(t, key_path=f"pipeline.{i}") for i, t in enumerate(transforms or [])
        ]
        self.fused: list[tuple[object, object]] = []
        self.transforms = _fuse_resize(built, self.fused) if fuse_resize else built

    def __call__(self, results: dict):
        for i, t in enumerate(self.transforms):
            try:
                results = t(results)
            except Exception as e:
                e.add_note(f"in pipeline step {i} ({type(t).__name__})")
                raise
            if results is None:
                return None
        return results

    def __len__(self) -> int:
        return len(self.transforms)

    def __getitem__(self, i):
        return self.transforms[i]

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"{type(self).__name__}([{inner}\n])"


def _short_side(resize) -> int | None:
    """S for a ``Resize`` that scales the short side to S keeping the ratio, else None."""
    scale = getattr(resize, "scale", None)
    if not (resize.keep_ratio and isinstance(scale, tuple) and len(scale) == 2):
        return None
    if getattr(resize, "interpolation", "bilinear") != "bilinear":
        return None  # readers scale with the interpolation they were opened with
    long_side, short = scale  # Resize turned (-1, S) and (S, -1) into (inf, S)
    if long_side != math.inf or short != int(short) or short <= 0:
        return None
    return int(short)


def _fuse_resize(transforms: list, fused: list) -> list:
    """``transforms`` with each (decode, short-side Resize) pair replaced by one decode step
    that resizes; ``fused`` receives the original pairs."""
    from vidlab.data.loading import VideoDecode
    from vidlab.data.transforms.resize import Resize

    out = []
    i = 0
    while i < len(transforms):
        t = transforms[i]
        nxt = transforms[i + 1] if i + 1 < len(transforms) else None
        size = None
        if isinstance(t, VideoDecode) and t.short_side is None and type(nxt) is Resize:
            size = _short_side(nxt)
        if size is None:
            out.append(t)
            i += 1
            continue
        step = copy.copy(t)  # the caller's object stays as it was
        step.short_side = size
        out.append(step)
        fused.append((t, nxt))
        i += 2
    return out
