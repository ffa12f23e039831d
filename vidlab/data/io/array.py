"""NumPy arrays (T, H, W, 3) uint8 as a source."""

from __future__ import annotations

import numpy as np

from vidlab.data.io.base import ReaderBase, VideoInfo, as_indices
from vidlab.data.io.convert import RGBConverter

__all__ = ["ArrayReader"]


class ArrayReader(ReaderBase):
    """Frames held in memory.

    Args:
        frames: uint8 array (T, H, W, 3), RGB.
        fps: The rate to report, if known.
        interpolation: Scaler used with `short_side`.
    """

    def __init__(self, frames: np.ndarray, *, fps: float | None = None, interpolation="bilinear"):
        if not isinstance(frames, np.ndarray):
            raise TypeError(f"expected a NumPy array (T, H, W, 3), got {type(frames).__name__}")
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"an array source must have shape (T, H, W, 3), got {frames.shape}")
        if frames.dtype != np.uint8:
            raise ValueError(f"an array source must be uint8 RGB, got dtype {frames.dtype}")
        self._frames = frames
        self._convert = RGBConverter(interpolation)
        t, h, w, _ = frames.shape
        self.info = VideoInfo(
            num_frames=t,
            fps=fps,
            width=w,
            height=h,
            duration=t / fps if fps else None,
            keyframes=tuple(range(t)),
            path=None,
        )

    def read(self, indices, short_side: int | None = None) -> np.ndarray:
        idx = as_indices(indices, self.info.num_frames, "<array>")
        return self._convert.resize(self._frames[idx], short_side)
