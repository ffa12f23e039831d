"""Decoding one image file: FFmpeg (through PyAV, always available) or OpenCV (optional).

OpenCV's decoder (libjpeg-turbo) is what MMAction2 uses (``mmcv.imfrombytes``); FFmpeg's JPEG
decoder rounds its IDCT and chroma upsampling differently, so pixels differ by a few levels.
``backend='cv2'`` gives MMAction2's pixels exactly.
"""

from __future__ import annotations

import os

import numpy as np

from vidlab.data.io.base import DecodeError

__all__ = ["IMAGE_BACKENDS", "decode_image", "read_image_bytes"]

IMAGE_BACKENDS = ("cv2", "ffmpeg")
_COLOR_TYPES = ("color", "grayscale", "unchanged")


def read_image_bytes(path: str | os.PathLike) -> bytes:
    """The bytes of an image file; ``FileNotFoundError`` names a missing one."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: image file does not exist")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise DecodeError(f"{path}: cannot read ({e.strerror})", path) from e
    if not data:
        raise DecodeError(f"{path}: the image file is empty (0 bytes)", path)
    return data


def _cv2():
    from vidlab.data.pixels import cv2_module

    return cv2_module()


def _lossless(path: str) -> bool:
    from vidlab.data.io.frames import IMAGE_CODECS, LOSSY_CODECS

    codec = IMAGE_CODECS.get(os.path.splitext(path)[1].lower())
    return codec is not None and codec not in LOSSY_CODECS


def decode_image(
    data: bytes, path: str = "<bytes>", color_type: str = "color", backend: str = "cv2"
) -> np.ndarray:
    """An encoded image as uint8: ``(H, W, 3)`` RGB for ``color``, ``(H, W)`` for ``grayscale``.

    Args:
        data: the file's bytes.
        path: named in errors.
        color_type: ``'color'``, ``'grayscale'`` or ``'unchanged'`` (``mmcv.imfrombytes``'s flag).
        backend: ``'cv2'`` (OpenCV, as MMAction2) or ``'ffmpeg'`` (PyAV).
    """
    if color_type not in _COLOR_TYPES:
        raise ValueError(f"color_type={color_type!r} is not known; use one of {_COLOR_TYPES}")
    if backend == "cv2" and _lossless(path):
        # Lossless images decode to the same pixels anywhere; FFmpeg avoids OpenCV's libpng,
        # which can clash with the zlib that PyAV's FFmpeg loaded ("bad parameters to zlib").
        backend = "ffmpeg"
    if backend == "cv2":
        cv2 = _cv2()
        flag = {
            "color": cv2.IMREAD_COLOR,
            "grayscale": cv2.IMREAD_GRAYSCALE,
            "unchanged": cv2.IMREAD_UNCHANGED,
        }[color_type]
        img = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
        if img is None:
            raise DecodeError(f"{path}: cannot decode the image (OpenCV)", path)
        if img.ndim == 3 and img.shape[2] == 3:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        elif img.ndim == 3 and img.shape[2] == 4:
            img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA)
        return img
    if backend != "ffmpeg":
        raise ValueError(f"backend={backend!r} is not known; use one of {IMAGE_BACKENDS}")
    import av

    from vidlab.data.io.frames import IMAGE_CODECS

    codec = IMAGE_CODECS.get(os.path.splitext(path)[1].lower(), "mjpeg")
    ctx = av.CodecContext.create(codec, "r")
    try:
        frames = ctx.decode(av.Packet(data)) or ctx.decode(None)
    except (av.error.FFmpegError, EOFError) as e:
        raise DecodeError(f"{path}: cannot decode the image ({e})", path) from e
    if not frames:
        raise DecodeError(f"{path}: cannot decode the image (no picture in it)", path)
    fmt = "gray" if color_type == "grayscale" else "rgb24"
    return frames[0].to_ndarray(format=fmt)
