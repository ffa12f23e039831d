"""Video reading: `probe`, `read_frames`, `open_video`.

A source is a video file, a frame folder, a NumPy array (T, H, W, 3) uint8, or an http(s) URL;
its kind is detected. Frame indices are 0-based for every kind (a frame folder numbered from 1
maps index 0 to its first file; `VideoInfo.start_index` tells that number).

Backends for video files: ``"pyav"`` (the default of ``"auto"``: frame-exact, needs nothing
beyond PyAV), and the optional ``"decord"``, ``"opencv"``, ``"torchcodec"``, imported when asked
for. Where an optional backend is known to return wrong frames on a file (found from the PyAV
frame index: codec, container, open GOPs, variable rate, missing duration, start time; and for
every optional backend: an edit list, timestamps that cannot be trusted, a frame size that
changes mid-stream, a display rotation), the file is read with PyAV instead, with a
`BackendFallbackWarning` the first time. Never a wrong frame silently.

Example:
    >>> info = probe("video.mp4")                       # VideoInfo(num_frames=300, fps=30.0, ...)
    >>> clip = read_frames("video.mp4", [0, 8, 16], short_side=256)   # uint8 (3, 256, W, 3)
    >>> with open_video("frames/video_0001") as reader:  # a folder of img_00001.jpg, ...
    ...     clip = reader.read(range(8))
"""

from __future__ import annotations

import importlib
import os
import re

import numpy as np

from vidlab.data.io.base import (
    BackendFallbackWarning,
    BackendUnavailableError,
    DecodeError,
    VideoInfo,
    VideoReader,
    name_of,
    warn_once,
)

__all__ = [
    "BACKENDS",
    "BackendFallbackWarning",
    "BackendUnavailableError",
    "DecodeError",
    "VideoInfo",
    "VideoReader",
    "open_video",
    "probe",
    "read_frames",
    "source_kind",
]

BACKENDS = ("auto", "pyav", "frames", "decord", "opencv", "torchcodec")
# name -> (module, reader class, import name)
_OPTIONAL = {
    "decord": ("vidlab.data.io.decord", "DecordReader", "decord"),
    "opencv": ("vidlab.data.io.opencv", "OpenCVReader", "cv2"),
    "torchcodec": ("vidlab.data.io.torchcodec", "TorchCodecReader", "torchcodec.decoders"),
}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def source_kind(src) -> str:
    """``"array"``, ``"url"``, ``"folder"`` or ``"file"``.

    Raises:
        ValueError: A URL scheme other than http(s).
        TypeError: Not a path, URL or array.
    """
    if isinstance(src, np.ndarray):
        return "array"
    if isinstance(src, (str, os.PathLike)):
        text = os.fsdecode(os.fspath(src))
        m = _SCHEME.match(text)
        if m:
            if m.group(1).lower() in ("http", "https"):
                return "url"
            raise ValueError(
                f"{text}: the {m.group(1)!r} scheme is not supported; a source is an http:// or "
                "https:// URL, or a local path (a video file or a frame folder)"
            )
        return "folder" if os.path.isdir(text) else "file"
    raise TypeError(
        "a video source is a path to a video file or frame folder, an http(s) URL, or a NumPy "
        f"array (T, H, W, 3); got {type(src).__name__}"
    )


def open_video(
    src,
    backend: str = "auto",
    *,
    threads: int = 1,
    interpolation: str = "bilinear",
    fps: float | None = None,
    filename_tmpl: str | None = None,
    modality: str = "RGB",
    rotate: bool = True,
) -> VideoReader:
    """Open `src` for reading frames by index.

    Args:
        src: Video file, frame folder, http(s) URL, or uint8 array (T, H, W, 3).
        backend: ``"auto"`` (PyAV for videos), ``"pyav"``, ``"frames"``, ``"decord"``,
            ``"opencv"`` or ``"torchcodec"``. Frame folders and arrays are read by their own
            readers whatever the backend.
        threads: Decoder threads; 1 by default (DataLoader workers are the parallelism).
        interpolation: Scaler for `short_side` resizing: ``"bilinear"``, ``"area"``, ...
        fps: The rate to report for an array.
        filename_tmpl: For a frame folder holding several series (``img_``, ``x_``, ``y_``),
            the one to read, e.g. ``"img_{:05d}.jpg"``; by default the RGB one.
        modality: ``"Flow"`` reads the x/y image pairs of an optical-flow folder as uint8
            ``(T, H, W, 2)`` frames (MMAction2's flow template, e.g. ``"{}_{:05d}.jpg"``, in
            `filename_tmpl`); only frame folders hold flow.
        rotate: Return a video's frames upright where it has a display rotation
            (`VideoInfo.rotation`, e.g. a phone's portrait clip), as FFmpeg's command line and
            players do; False returns them as stored.

    Returns:
        A reader with ``.info`` (`VideoInfo`), ``.read(indices, short_side=None)``,
        ``.close()``; a context manager.

    Raises:
        DecodeError: The source is missing, unreadable, empty, not a video, or damaged.
        BackendUnavailableError: The backend's package is not installed (the message names it).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r} is not known; use one of {', '.join(BACKENDS)}")
    if modality not in ("RGB", "Flow"):
        raise ValueError(f"modality={modality!r} is not known; use 'RGB' or 'Flow'")
    kind = source_kind(src)
    if modality == "Flow" and kind != "folder":
        raise DecodeError(
            f"{name_of(src)}: modality='Flow' reads x/y image pairs from a frame folder; this "
            f"is a{'n' if kind == 'array' else ''} {kind}",
            None if kind == "array" else src,
        )
    if kind == "array":
        from vidlab.data.io.array import ArrayReader

        return ArrayReader(src, fps=fps, interpolation=interpolation)
    path = os.fsdecode(os.fspath(src))
    if kind == "folder":
        from vidlab.data.io.frames import FlowFolderReader, FrameFolderReader

        cls = FlowFolderReader if modality == "Flow" else FrameFolderReader
        return cls(path, filename_tmpl=filename_tmpl, interpolation=interpolation)
    if backend == "frames":
        if kind == "file" and not os.path.exists(path):
            raise DecodeError(f"{path}: no such frame folder", path)
        raise DecodeError(f"{path}: backend='frames' reads frame folders; this is a {kind}", path)

    from vidlab.data.io.pyav import PyAVReader, get_index

    if kind == "url" or backend in ("auto", "pyav"):
        return PyAVReader(path, threads=threads, interpolation=interpolation, rotate=rotate)
    reader_cls = _load_backend(backend)
    index = get_index(path)
    module = importlib.import_module(reader_cls.__module__)
    reason = common_unsafe_reason(index) or module.unsafe_reason(index)
    if reason is None:
        reader = reader_cls(path, index=index, threads=threads, interpolation=interpolation)
        if reader.num_frames == index.num_frames:
            return reader
        reader.close()
        reason = (
            f"{backend} counts {reader.num_frames} frames where the stream has {index.num_frames}"
        )
    warn_once(
        (backend, reason),
        f"{path}: not read with backend={backend!r}: {reason}; reading it (and files like "
        "it) with PyAV instead.",
    )
    return PyAVReader(
        path, threads=threads, interpolation=interpolation, index=index, rotate=rotate
    )


def common_unsafe_reason(index) -> str | None:
    """Why no optional backend is used on a file whatever its codec and container: vidlab's
    rules for lying containers live in the PyAV reader (`vidlab.data.io.pyav`)."""
    if index.discarded:
        return (
            f"an edit list discards {index.discarded} packets (a cut made without re-encoding); "
            "other decoders count or return them"
        )
    if index.pts is None and index.issues:
        return "the timestamps cannot be trusted (" + "; ".join(index.issues) + ")"
    if index.rotation:
        return f"the file is rotated {index.rotation} degrees (display matrix)"
    if any("mid-stream" in issue for issue in index.issues):
        return "the frame size changes mid-stream"
    return None


def _load_backend(name: str):
    module_name, class_name, import_name = _OPTIONAL[name]
    try:
        importlib.import_module(import_name)
    except ImportError as e:
        package = importlib.import_module(module_name).PACKAGE
        extra = " (and FFmpeg's shared libraries)" if name == "torchcodec" else ""
        raise BackendUnavailableError(
            f"backend={name!r} needs the {package!r} package{extra}, which cannot be imported "
            f"({e}); install it with `pip install {package}`, or use backend='pyav'"
        ) from e
    return getattr(importlib.import_module(module_name), class_name)


def probe(src, backend: str = "auto", **kwargs) -> VideoInfo:
    """Metadata of `src`, checked against its content (see `VideoInfo`).

    For a video file the frame count, keyframes, rate and duration come from one demux pass
    (cached per process), whichever backend is named. A URL is streamed once (not cached).
    """
    kind = source_kind(src)
    if kind == "file" and backend != "frames":
        from vidlab.data.io.pyav import get_index

        path = os.fsdecode(os.fspath(src))
        return get_index(path).info(path)
    if kind == "url":
        from vidlab.data.io.pyav import build_index

        return build_index(src, timeout=30).info(src)
    with open_video(src, backend, **kwargs) as reader:
        return reader.info


def read_frames(src, indices, backend: str = "auto", *, short_side: int | None = None, **kwargs):
    """Frames of `src` at `indices` (0-based, any order, repeats allowed).

    Returns:
        uint8 array (T, H, W, 3), RGB, in the order asked. With `short_side`, frames are
        scaled during conversion so their short side has that length (aspect ratio kept).
    """
    with open_video(src, backend, **kwargs) as reader:
        return reader.read(indices, short_side=short_side)
