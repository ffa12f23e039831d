"""TorchCodec backend (optional: ``pip install torchcodec``; needs FFmpeg's shared libraries).

Used in exact seek mode with one FFmpeg thread. Measured (torchcodec 0.13.0, Debian's FFmpeg
5.1): exact on H.264/HEVC/VP9 in MP4 and Matroska/WebM, open GOPs, variable frame rates, start
times other than 0 and files without a duration; off by one on MPEG-4 part 2 with B-frames in
AVI and on MPEG-PS, fails in MPEG-TS, cannot open raw streams. `unsafe_reason` sends the files
it is not known to be exact on to PyAV.
"""

from __future__ import annotations

import numpy as np

from vidlab.data.io.base import DecodeError, ReaderBase, as_indices
from vidlab.data.io.convert import RGBConverter
from vidlab.data.io.pyav import FrameIndex

PACKAGE = "torchcodec"
EXACT_CODECS = ("h264", "hevc", "vp8", "vp9", "av1")


def unsafe_reason(index: FrameIndex) -> str | None:
    """Why TorchCodec may return wrong frames on this file, or None where it is exact."""
    if index.codec not in EXACT_CODECS:
        return f"TorchCodec is not frame-exact on {index.codec!r} streams"
    if "mp4" not in index.format_name and "matroska" not in index.format_name:
        return f"TorchCodec is not frame-exact in {index.format_name!r} containers"
    if index.pts is None:
        return "the stream has no usable timestamps"
    return None


class TorchCodecReader(ReaderBase):
    """Reads with ``torchcodec.decoders.VideoDecoder(seek_mode="exact")``."""

    def __init__(self, path: str, *, index: FrameIndex, threads: int = 1, interpolation="bilinear"):
        from torchcodec.decoders import VideoDecoder

        self.path = path
        try:
            self._decoder = VideoDecoder(
                path, seek_mode="exact", num_ffmpeg_threads=threads, dimension_order="NHWC"
            )
        except Exception as e:  # TorchCodec raises RuntimeError/ValueError from C++
            raise DecodeError(f"{path}: TorchCodec cannot open it ({e})", path) from e
        self.num_frames = self._decoder.metadata.num_frames
        self.info = index.info(path)
        self._convert = RGBConverter(interpolation)

    def read(self, indices, short_side: int | None = None) -> np.ndarray:
        idx = as_indices(indices, self.info.num_frames, self.path)
        try:
            frames = self._decoder.get_frames_at(idx.tolist()).data.numpy()
        except Exception as e:
            raise DecodeError(f"{self.path}: TorchCodec failed ({e})", self.path) from e
        return self._convert.resize(frames, short_side)

    def close(self) -> None:
        self._decoder = None
