"""decord backend (optional: ``pip install decord``).

decord is exact on clean H.264/HEVC/VP8/VP9 files in MP4 or Matroska/WebM. Measured
(decord 0.6.0): it returns shifted frames on MPEG-4 part 2 with B-frames, on open GOPs (x264
``open-gop``, x265's default), and in MPEG-TS/PS, AVI and raw streams; it cannot open files
without a duration. `unsafe_reason` detects those from the PyAV index, and
`vidlab.data.io.open_video` then reads the file with PyAV instead.
"""

from __future__ import annotations

import numpy as np

from vidlab.data.io.base import DecodeError, ReaderBase, as_indices
from vidlab.data.io.convert import RGBConverter
from vidlab.data.io.pyav import FrameIndex

PACKAGE = "decord"
EXACT_CODECS = ("h264", "hevc", "vp8", "vp9")


def unsafe_reason(index: FrameIndex) -> str | None:
    """Why decord may return wrong frames on this file, or None where it is exact."""
    if index.codec not in EXACT_CODECS:
        return f"decord is not frame-exact on {index.codec!r} streams"
    if "mp4" not in index.format_name and "matroska" not in index.format_name:
        return f"decord is not frame-exact in {index.format_name!r} containers"
    if not index.has_duration:
        return "decord cannot open files without a duration"
    if index.pts is None:
        return "the stream has no usable timestamps"
    if index.open_gop:
        return "decord returns wrong frames after seeking in open GOPs"
    return None


class DecordReader(ReaderBase):
    """Reads with ``decord.VideoReader.get_batch``; metadata comes from the PyAV index."""

    def __init__(self, path: str, *, index: FrameIndex, threads: int = 1, interpolation="bilinear"):
        import decord

        self.path = path
        try:
            self._vr = decord.VideoReader(path, ctx=decord.cpu(0), num_threads=threads)
        except decord.DECORDError as e:
            raise DecodeError(
                f"{path}: decord cannot open it ({str(e).strip()[:300]})", path
            ) from e
        self.num_frames = len(self._vr)
        self.info = index.info(path)
        self._convert = RGBConverter(interpolation)

    def read(self, indices, short_side: int | None = None) -> np.ndarray:
        import decord

        idx = as_indices(indices, self.info.num_frames, self.path)
        try:
            batch = self._vr.get_batch(idx.tolist())
        except decord.DECORDError as e:
            raise DecodeError(
                f"{self.path}: decord failed ({str(e).strip()[:300]})", self.path
            ) from e
        frames = batch.asnumpy() if hasattr(batch, "asnumpy") else np.asarray(batch)
        return self._convert.resize(frames, short_side)

    def close(self) -> None:
        self._vr = None
