"""OpenCV backend (optional: ``pip install opencv-python-headless``).

OpenCV reads every file right when decoding forward, but its seek (``CAP_PROP_POS_FRAMES``)
turns a frame number into a time with the nominal rate: measured, it lands on wrong frames on
variable-rate files, files without a duration (its frame count is then garbage), MPEG-TS/PS and
raw streams. `unsafe_reason` detects those from the PyAV index, and
`vidlab.data.io.open_video` then reads the file with PyAV instead.
"""

from __future__ import annotations

import numpy as np

from vidlab.data.io.base import DecodeError, ReaderBase, as_indices, in_order, output_size
from vidlab.data.io.convert import RGBConverter
from vidlab.data.io.pyav import FrameIndex

PACKAGE = "opencv-python-headless"
_FORMATS = ("mp4", "matroska", "avi")


def unsafe_reason(index: FrameIndex) -> str | None:
    """Why OpenCV's seek may land on wrong frames in this file, or None where it is exact."""
    if not any(f in index.format_name for f in _FORMATS):
        return f"OpenCV seeks inexactly in {index.format_name!r} containers"
    if not index.has_duration:
        return "OpenCV seeks inexactly in files without a duration"
    if index.pts is None:
        return "the stream has no usable timestamps"
    if index.vfr:
        return "OpenCV seeks inexactly in variable-frame-rate files"
    return None


class OpenCVReader(ReaderBase):
    """Reads with ``cv2.VideoCapture``: forward with ``grab``, seeking only to a later GOP."""

    def __init__(self, path: str, *, index: FrameIndex, threads: int = 1, interpolation="bilinear"):
        import cv2

        self._cv2 = cv2
        self.path = path
        self._index = index
        self.info = index.info(path)
        self._threads = threads
        self._convert = RGBConverter(interpolation)
        self._open()

    def _open(self) -> None:
        cv2 = self._cv2
        params = (
            [cv2.CAP_PROP_N_THREADS, self._threads] if hasattr(cv2, "CAP_PROP_N_THREADS") else []
        )
        self._cap = cv2.VideoCapture(self.path, cv2.CAP_FFMPEG, params)
        if not self._cap.isOpened():
            raise DecodeError(f"{self.path}: OpenCV cannot open it", self.path)
        self._next = 0  # the frame that the next read returns
        self.num_frames = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))

    def read(self, indices, short_side: int | None = None) -> np.ndarray:
        cv2 = self._cv2
        idx = as_indices(indices, self.info.num_frames, self.path)
        targets, inverse = np.unique(idx, return_inverse=True)
        width, height = output_size(self.info.width, self.info.height, short_side)
        out = np.empty((len(targets), self.info.height, self.info.width, 3), np.uint8)
        keyframes = self._index.keyframes
        for k, t in enumerate(targets.tolist()):
            slot = max(int(np.searchsorted(keyframes, t, side="right")) - 1, 0)
            if t < self._next or keyframes[slot] > self._next:
                if not self._cap.set(cv2.CAP_PROP_POS_FRAMES, t):
                    raise DecodeError(f"{self.path}: OpenCV cannot seek to frame {t}", self.path)
                self._next = t
            while self._next < t:
                if not self._cap.grab():
                    raise DecodeError(f"{self.path}: OpenCV stopped before frame {t}", self.path)
                self._next += 1
            ok, bgr = self._cap.read()
            if not ok or bgr.shape[:2] != out.shape[1:3]:
                raise DecodeError(f"{self.path}: OpenCV cannot decode frame {t}", self.path)
            cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB, dst=out[k])
            self._next = t + 1
        if (width, height) != (self.info.width, self.info.height):
            out = self._convert.resize(out, short_side)
        return in_order(out, idx, targets, inverse)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
