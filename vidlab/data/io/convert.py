"""Frame conversion to RGB (and resizing) with FFmpeg's scaler through PyAV.

One `RGBConverter` holds one `VideoReformatter` whose scaler context is reused from frame to
frame, single-threaded: PyAV's plain ``frame.to_ndarray(format="rgb24")`` builds a threaded
converter per frame and is about 3x slower.
"""

from __future__ import annotations

import av
import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

from vidlab.data.io.base import output_size

INTERPOLATIONS = {
    "bilinear": Interpolation.BILINEAR,
    "area": Interpolation.AREA,
    "bicubic": Interpolation.BICUBIC,
    "nearest": Interpolation.POINT,
    "lanczos": Interpolation.LANCZOS,
}


def interpolation_flag(name: str) -> Interpolation:
    try:
        return INTERPOLATIONS[name]
    except KeyError:
        raise ValueError(
            f"interpolation={name!r} is not known; use one of {sorted(INTERPOLATIONS)}"
        ) from None


_CHANNELS = {"rgb24": 3, "gray": 1}


class RGBConverter:
    """Converts decoded frames to uint8 RGB arrays, writing into a caller's buffer.

    Args:
        interpolation: Scaler used when the output size differs from the frame's.
        format: ``"rgb24"`` (default) or ``"gray"`` (one channel: optical-flow images).
    """

    def __init__(self, interpolation: str = "bilinear", format: str = "rgb24"):
        if format not in _CHANNELS:
            raise ValueError(f"format={format!r} is not supported; use one of {sorted(_CHANNELS)}")
        self._reformatter = VideoReformatter()
        self._interpolation = interpolation_flag(interpolation)
        self._format = format
        self._channels = _CHANNELS[format]

    def convert(self, frame: av.VideoFrame, out: np.ndarray) -> None:
        """Write `frame` into `out` ((H, W, 3) for RGB; (H, W) or (H, W, 1) for gray), scaling
        it to `out`'s size."""
        height, width = out.shape[:2]
        rgb = self._reformatter.reformat(
            frame,
            width=width,
            height=height,
            format=self._format,
            interpolation=self._interpolation,
            threads=1,
        )
        plane = rgb.planes[0]
        rows = np.frombuffer(plane, np.uint8).reshape(height, plane.line_size)
        out[...] = rows[:, : width * self._channels].reshape(out.shape)

    def resize(self, frames: np.ndarray, short_side: int | None) -> np.ndarray:
        """Resize RGB frames (T, H, W, 3) so their short side is `short_side`."""
        if short_side is None:
            return frames
        height, width = frames.shape[1:3]
        new_w, new_h = output_size(width, height, short_side)
        if (new_w, new_h) == (width, height):
            return frames
        out = np.empty((len(frames), new_h, new_w, 3), np.uint8)
        for k, img in enumerate(frames):
            self.convert(
                av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24"), out[k]
            )
        return out
