"""Opening and decoding: ``VideoInit`` / ``VideoDecode`` and MMAction2's names for them.

The kind of input is detected from the results dict, not configured:

- ``filename`` (or ``frame_dir``) naming a video file or an http(s) URL: read frame-exactly
  (``total_frames`` counted from the stream, not the header);
- ``frame_dir`` (or ``filename``) naming a folder of images: the number of the first file is
  read off the folder's files, so MMAction2's default ``start_index`` cannot make a frame go
  missing; a ``start_index`` the user gave the dataset (``explicit_start_index`` in the
  results) is honoured as in MMAction2 (the clip starts at file number ``start_index``), and is
  an error when no such file exists. A folder with numbers missing in the frames it would use
  is an error naming the folder and the numbers (``on_error='skip'`` skips and lists it).
  ``filename_tmpl`` picks the series of images where it names one (a folder holding ``img_``,
  ``x_`` and ``y_`` images), else the images that are there are read; ``modality='Flow'``
  reads x/y image pairs into ``(H, W, 2)`` frames;
- a NumPy array ``(T, H, W, 3)`` uint8 in ``filename``, ``frame_dir`` or ``array``.

Every kind is read by ``vidlab.data.io`` (``open_video``); :mod:`vidlab.data.sources` opens
it and sets the results fields (``open_source``, ``ensure_source_info``, also importable from
here), and this module's transforms map MMAction2's results keys onto it.

So a pipeline written for videos (``DecordInit, SampleFrames, DecordDecode``) runs on a frame
folder, and one written for frame folders (``SampleFrames, RawFrameDecode``) runs on a video:
samplers open the source themselves when no Init step set ``total_frames``.

Index convention: ``frame_inds`` (from a sampler) count from ``start_index``; the frame read for
index ``i`` is position ``i - start_index + offset + frame_shift`` of the source (``offset``
from ``with_offset`` annotations, 0 otherwise; ``frame_shift`` = an explicit ``start_index``
minus the number of the source's first frame, 0 otherwise), position 0 being the first frame of
the video or the first file of the folder.
"""

from __future__ import annotations

import logging
import os

import numpy as np

from vidlab.data.sources import (
    _check_gaps,
    _frame_shift,
    _note_once,
    _set_info,
    _Source,
    ensure_source_info,
    open_source,
)

__all__ = [
    "VideoInit",
    "VideoDecode",
    "PyAVInit",
    "PyAVDecode",
    "DecordInit",
    "DecordDecode",
    "OpenCVInit",
    "OpenCVDecode",
    "RawFrameDecode",
    "LoadRGBFromFile",
    "open_source",
    "ensure_source_info",
]

_LOCAL_IO = (None, "disk", "local")
# Resizing while decoding uses FFmpeg's scaler (during the RGB conversion) when the source's
# short side is at least this many times the target: 8 frames to short side 256 on one core,
# 1280x720: 9.6 ms against 11.2 ms for a full-size conversion + Resize, 1920x1080: 14 vs 50 ms;
# but 960x540: 9.2 vs 6.4 ms and 640x360: 5.8 vs 3.5 ms (FFmpeg's unscaled YUV->RGB path is fast).
_SCALER_MIN_RATIO = 2.5


# --------------------------------------------------------------------------------------------
# transforms
# --------------------------------------------------------------------------------------------
def _check_io_backend(io_backend, kwargs=None) -> None:
    if io_backend == "petrel" and (kwargs or {}).get("path_mapping"):
        # OpenMMLab's internal storage mapped from local paths (two AVA configs): read those
        msg = "io_backend='petrel': reading the local paths as written (path_mapping ignored)"
        return _note_once(("petrel",), msg, logging.WARNING)
    if io_backend not in _LOCAL_IO:
        raise ValueError(
            f"io_backend={io_backend!r} is not supported: vidlab reads local files and http(s) "
            "URLs (use io_backend='disk')"
        )


class VideoInit:
    """Open the source of a sample and set ``total_frames``, ``avg_fps`` and ``video_reader``.

    Args:
        backend: video reader of ``vidlab.data.io`` (``'auto'``, ``'pyav'``, ``'decord'``,
            ``'opencv'``, ``'torchcodec'``); frame folders and arrays have their own.
        io_backend: MMAction2's file client; only ``'disk'`` (local files and URLs).
        num_threads: decoder threads per reader (DataLoader workers are the parallelism).
        **kwargs: further MMAction2 file-client arguments, ignored.
    """

    _fallback = False
    _accepts_any_kwargs = True  # MMAction2 file-client arguments (config validation)

    def __init__(
        self, backend: str = "auto", io_backend: str = "disk", num_threads: int = 1, **kwargs
    ):
        _check_io_backend(io_backend, kwargs)
        self.backend = backend
        self.io_backend = io_backend
        self.num_threads = num_threads
        self.kwargs = kwargs

    def __call__(self, results: dict) -> dict:
        old = results.get("video_reader")
        if isinstance(old, _Source):
            old.close()
        source = open_source(results, self.backend, self.num_threads, fallback=self._fallback)
        results["video_reader"] = source
        _set_info(results, source)
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(backend={self.backend!r}, num_threads={self.num_threads})"


class VideoDecode:
    """Read exactly the frames ``frame_inds`` into ``imgs`` (one uint8 ``(T, H, W, C)`` array).

    Sets ``img_shape`` and ``original_shape`` (h, w) and closes the reader. Detection samples'
    normalised ``gt_bboxes`` and ``proposals`` become float32 pixels of the decoded frames (as
    MMAction2's ``RawFrameDecode``/``DecordDecode`` make them). With ``short_side``
    the frames are scaled so that their short side is ``short_side``, setting the keys a
    following ``Resize(scale=(-1, short_side))`` would (``img_shape``, ``scale_factor``,
    ``keep_ratio``): by FFmpeg's scaler during the RGB conversion where the source's short side
    is at least 2.5x ``short_side`` (faster there), else after it exactly as ``Resize`` does.

    Args:
        mode: MMAction2's ``'accurate'``/``'efficient'``; vidlab always reads the exact frames.
        short_side: resize while decoding.
    """

    def __init__(self, mode: str = "accurate", short_side: int | None = None):
        if mode not in ("accurate", "efficient"):
            raise ValueError(f"mode={mode!r}; expected 'accurate' or 'efficient'")
        self.mode = mode
        self.short_side = short_side

    def __call__(self, results: dict) -> dict:
        source = results.get("video_reader")
        opened_here = not isinstance(source, _Source)
        if opened_here:
            source = open_source(results)
        try:
            frame_inds = np.asarray(results["frame_inds"]).reshape(-1)
            start = results.get("start_index")
            start = source.start_index if start is None else int(start)
            shift = _frame_shift(results, source)
            offset = int(results.get("offset") or 0)
            if source.kind == "frames" and source.layout is not None:
                first = source.start_index + shift + offset
                total = results.get("total_frames")
                last = source.layout.last if total is None else first + int(total) - 1
                _check_gaps(source, first, last)
            positions = frame_inds.astype(np.int64) - start + offset + shift
            imgs = self._read(source, positions)
        finally:
            source.close()
            results["video_reader"] = None
        if imgs.shape[0] == 0:
            raise ValueError(f"{source.path}: no frame indices to decode")
        h, w = imgs.shape[1:3]
        orig = (source.height, source.width) if source.height else (h, w)
        results["imgs"] = imgs
        results["original_shape"] = orig
        results["img_shape"] = (h, w)
        factor = None
        if self.short_side:  # the keys a following Resize(scale=(-1, short_side)) sets
            factor = np.array([w / orig[1], h / orig[0]], dtype=np.float32)
            results["scale_factor"] = results.get("scale_factor", np.ones(2, np.float32)) * factor
            results["keep_ratio"] = True
        if "gt_bboxes" in results:
            from vidlab.data.transforms.frames import boxes_to_pixels

            boxes_to_pixels(results, orig, factor)
        return results

    def _read(self, source: _Source, positions: np.ndarray) -> np.ndarray:
        from vidlab.data.pixels import use_cv2

        size = self.short_side
        if not size:
            return source.read(positions)
        # FFmpeg's scaler is faster for a large shrink, but its pixels are not Resize's:
        # never in the "mmaction2" pixel mode.
        if (
            not use_cv2()
            and source.kind != "array"
            and min(source.height, source.width) >= _SCALER_MIN_RATIO * size
        ):
            return source.read(positions, short_side=size)
        # A small shrink: FFmpeg's unscaled RGB conversion plus Resize's own sampling is faster
        # than FFmpeg's scaler (measured, see _SCALER_MIN_RATIO), and gives Resize's pixels.
        from vidlab.data.io.base import output_size
        from vidlab.data.transforms.resize import resize_frames

        imgs = source.read(positions)
        return resize_frames(imgs, output_size(imgs.shape[2], imgs.shape[1], size))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mode={self.mode!r}, short_side={self.short_side})"


class PyAVInit(VideoInit):
    """MMAction2's ``PyAVInit``: ``VideoInit(backend='pyav')``."""

    def __init__(self, io_backend: str = "disk", num_threads: int = 1, **kwargs):
        super().__init__(backend="pyav", io_backend=io_backend, num_threads=num_threads, **kwargs)


class PyAVDecode(VideoDecode):
    """MMAction2's ``PyAVDecode`` (``multi_thread`` is accepted; threads are set by Init)."""

    def __init__(
        self, multi_thread: bool = False, mode: str = "accurate", short_side: int | None = None
    ):
        super().__init__(mode=mode, short_side=short_side)
        self.multi_thread = multi_thread


class DecordInit(VideoInit):
    """MMAction2's ``DecordInit``: decord when installed, else vidlab's default reader."""

    _fallback = True

    def __init__(self, io_backend: str = "disk", num_threads: int = 1, **kwargs):
        super().__init__(backend="decord", io_backend=io_backend, num_threads=num_threads, **kwargs)


class DecordDecode(VideoDecode):
    """MMAction2's ``DecordDecode``."""


class OpenCVInit(VideoInit):
    """MMAction2's ``OpenCVInit``: OpenCV when installed, else vidlab's default reader.

    Sets ``new_path`` (the file read) as MMAction2 does.
    """

    _fallback = True

    def __init__(self, io_backend: str = "disk", **kwargs):
        super().__init__(backend="opencv", io_backend=io_backend, **kwargs)

    def __call__(self, results: dict) -> dict:
        results = super().__call__(results)
        results["new_path"] = results["video_reader"].path
        return results


class OpenCVDecode(VideoDecode):
    """MMAction2's ``OpenCVDecode``."""


class RawFrameDecode(VideoDecode):
    """MMAction2's ``RawFrameDecode``: frames of a folder (or of a video, detected).

    ``filename_tmpl``, ``start_index`` and ``offset`` come from the dataset; the number of the
    folder's first file is read off the files, and ``filename_tmpl`` picks a series only where
    it names one (see the module docstring). ``modality='Flow'`` reads x/y gray image pairs into
    ``(H, W, 2)`` frames.

    Args:
        io_backend: only ``'disk'``.
        decoding_backend: accepted (MMAction2's image decoder); images are decoded with FFmpeg.
    """

    _accepts_any_kwargs = True  # MMAction2 file-client arguments (config validation)

    def __init__(
        self,
        io_backend: str = "disk",
        decoding_backend: str = "cv2",
        short_side: int | None = None,
        **kwargs,
    ):
        _check_io_backend(io_backend, kwargs)
        super().__init__(short_side=short_side)
        self.io_backend = io_backend
        self.decoding_backend = decoding_backend


class LoadRGBFromFile:
    """MMAction2's ``LoadRGBFromFile``: one image from ``img_path`` into ``img`` (RGB, uint8).

    Sets ``img``, ``img_shape`` and ``ori_shape``.

    Args:
        to_float32: return float32 pixels.
        color_type: ``'color'``, ``'grayscale'`` or ``'unchanged'``.
        imdecode_backend: ``'cv2'`` (OpenCV, MMAction2's pixels, when the pixel mode is
            ``'mmaction2'``; FFmpeg in the ``'fast'`` mode, see :mod:`vidlab.data.pixels`) or
            ``'ffmpeg'`` (PyAV, always available).
        io_backend: only ``'disk'``.
        ignore_empty: a missing or undecodable file returns ``None`` (the sample is dropped)
            instead of raising.
    """

    _accepts_any_kwargs = True  # MMAction2 file-client arguments (config validation)

    def __init__(
        self,
        to_float32: bool = False,
        color_type: str = "color",
        imdecode_backend: str = "cv2",
        io_backend: str = "disk",
        ignore_empty: bool = False,
        **kwargs,
    ):
        from vidlab.data.io.image import IMAGE_BACKENDS

        _check_io_backend(io_backend)
        if imdecode_backend not in IMAGE_BACKENDS:
            raise ValueError(
                f"imdecode_backend={imdecode_backend!r} is not supported; use one of "
                f"{IMAGE_BACKENDS}"
            )
        self.to_float32 = to_float32
        self.color_type = color_type
        self.imdecode_backend = imdecode_backend
        self.io_backend = io_backend
        self.ignore_empty = ignore_empty

    def _backend(self) -> str:
        from vidlab.data.pixels import use_cv2

        return (
            "ffmpeg" if self.imdecode_backend == "cv2" and not use_cv2() else self.imdecode_backend
        )

    def __call__(self, results: dict) -> dict | None:
        from vidlab.data.io import DecodeError
        from vidlab.data.io.image import decode_image, read_image_bytes

        path = os.fspath(results["img_path"])
        try:
            data = read_image_bytes(path)
            img = decode_image(data, path, self.color_type, self._backend())
        except (FileNotFoundError, DecodeError):
            if self.ignore_empty:
                return None
            raise
        if self.to_float32:
            img = img.astype(np.float32)
        results["img"] = img
        results["img_shape"] = img.shape[:2]
        results["ori_shape"] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(ignore_empty={self.ignore_empty}, "
            f"to_float32={self.to_float32}, color_type={self.color_type!r}, "
            f"imdecode_backend={self.imdecode_backend!r}, io_backend={self.io_backend!r})"
        )
