"""Common types of the video readers: `VideoInfo`, `DecodeError`, the `VideoReader` protocol.

Every reader takes 0-based frame indices: index ``i`` is the ``i``-th frame in presentation
order, whatever the source (a frame folder numbered from 1 maps index 0 to its first file; its
``VideoInfo.start_index`` tells the number of that file).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = [
    "BackendFallbackWarning",
    "BackendUnavailableError",
    "DecodeError",
    "VideoInfo",
    "VideoReader",
]


@dataclass(frozen=True)
class VideoInfo:
    """What a source holds, checked against its content rather than taken from its header.

    Attributes:
        num_frames: Frames that can be addressed, counted from the stream itself (for a video
            file: its packets, one demux pass; for a frame folder: the contiguous run of files
            from the first number).
        fps: Frames per second (the stream's rate; the mean rate of a variable-rate file), or
            None where the source has no rate (frame folders, arrays).
        width: Frame width in pixels.
        height: Frame height in pixels.
        duration: Seconds, or None where unknown.
        keyframes: Indices of the keyframes (seek points), or None where unknown.
        path: The file, folder or URL; None for an array.
        start_index: For a frame folder, the number of its first file; 0 otherwise.
        codec: The codec name (``"h264"``, ``"mjpeg"``, ...) where there is one.
        issues: What looked wrong while probing (a header that promises more frames than the
            file holds, gaps in a folder's numbering), one sentence each; empty when clean.
            Some are learnt while reading and appear from then on in this process
            (timestamps found out of order, a frame size that changes mid-stream).
        rotation: Degrees (0, 90, 180 or 270) the frames are rotated clockwise for display
            (a phone's display matrix). `width` and `height` are the frames as stored;
            readers return them upright by default (``rotate=True``), so a clip of a file
            with rotation 90 or 270 is ``height`` wide and ``width`` high.
        sample_aspect_ratio: Width of a pixel over its height where the stream states one
            (e.g. 4/3 for anamorphic DV); None where it does not. Frames are returned with
            their stored pixels, not resampled to square ones.
    """

    num_frames: int
    fps: float | None
    width: int
    height: int
    duration: float | None
    keyframes: tuple[int, ...] | None
    path: str | None
    start_index: int = 0
    codec: str | None = None
    issues: tuple[str, ...] = ()
    rotation: int = 0
    sample_aspect_ratio: Fraction | None = None

    @property
    def upright_size(self) -> tuple[int, int]:
        """(width, height) of the frames as displayed, and as read with ``rotate=True``."""
        if self.rotation in (90, 270):
            return self.height, self.width
        return self.width, self.height


class DecodeError(Exception):
    """A source could not be opened or decoded. The message names the source and the cause.

    Attributes:
        path: The file, folder or URL (None for an array).
    """

    def __init__(self, message: str, path: str | os.PathLike | None = None):
        super().__init__(message)
        self.path = None if path is None else os.fspath(path)


class BackendUnavailableError(ImportError):
    """An optional backend was asked for but its package is not installed."""


class BackendFallbackWarning(UserWarning):
    """An optional backend is known to give wrong frames on a file; PyAV reads it instead."""


@runtime_checkable
class VideoReader(Protocol):
    """What every reader offers. Readers are context managers."""

    info: VideoInfo

    def read(self, indices, short_side: int | None = None) -> np.ndarray:
        """Frames at `indices` (0-based, any order, repeats allowed) as uint8 (T, H, W, 3) RGB."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> VideoReader: ...

    def __exit__(self, *exc) -> None: ...


class ReaderBase:
    """Context-manager plumbing shared by the readers."""

    info: VideoInfo

    def close(self) -> None:  # pragma: no cover - overridden where there is something to free
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        i = self.info
        return (
            f"{type(self).__name__}({i.path!r}, frames={i.num_frames}, "
            f"size={i.width}x{i.height}, fps={i.fps})"
        )


def as_indices(indices, num_frames: int, name: str | None) -> np.ndarray:
    """`indices` as a 1-D int64 array, checked against ``[0, num_frames)``.

    Raises:
        IndexError: An index is negative or past the end; the message names the source.
    """
    idx = np.asarray(indices)
    if idx.ndim == 0:
        idx = idx.reshape(1)
    if idx.ndim != 1:
        raise ValueError(f"{name}: frame indices must be a 1-D sequence, got shape {idx.shape}")
    if idx.size == 0:
        return idx.astype(np.int64)
    if not np.issubdtype(idx.dtype, np.integer):
        if np.issubdtype(idx.dtype, np.floating) and np.all(idx == np.round(idx)):
            idx = idx.astype(np.int64)
        else:
            raise TypeError(f"{name}: frame indices must be integers, got dtype {idx.dtype}")
    idx = idx.astype(np.int64, copy=False)
    lo, hi = int(idx.min()), int(idx.max())
    if lo < 0 or hi >= num_frames:
        bad = lo if lo < 0 else hi
        raise IndexError(
            f"{name}: frame index {bad} is out of range; the source has {num_frames} frames "
            f"(valid indices 0..{num_frames - 1})"
        )
    return idx


def in_order(frames: np.ndarray, indices: np.ndarray, targets: np.ndarray, inverse) -> np.ndarray:
    """`frames` read for the sorted unique `targets`, arranged as `indices` asked (repeats
    copied); no copy where `indices` was already sorted and unique."""
    if len(targets) == len(indices) and np.array_equal(targets, indices):
        return frames
    return frames[np.asarray(inverse).reshape(-1)]


def output_size(width: int, height: int, short_side: int | None) -> tuple[int, int]:
    """(width, height) after scaling the short side to `short_side`, keeping the aspect ratio.

    Rounds as MMAction2's ``Resize(scale=(-1, S))`` does (``int(x * scale + 0.5)``).
    """
    if short_side is None:
        return width, height
    short_side = int(short_side)
    if short_side <= 0:
        raise ValueError(f"short_side must be a positive integer, got {short_side}")
    scale = short_side / min(width, height)
    return max(1, int(width * scale + 0.5)), max(1, int(height * scale + 0.5))


_warned: set[tuple[str, str]] = set()


def warn_once(key: tuple[str, str], message: str) -> None:
    """Warn with `message` the first time `key` is seen in this process."""
    if key in _warned:
        return
    _warned.add(key)
    warnings.warn(message, BackendFallbackWarning, stacklevel=3)


def name_of(src) -> str:
    return os.fspath(src) if isinstance(src, (str, os.PathLike)) else "<array>"
