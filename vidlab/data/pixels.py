"""Which library makes the pixels of frame folders and ``Resize``: MMAction2's or vidlab's.

Two modes:

- ``"mmaction2"``: JPEG/PNG frames are decoded by OpenCV (libjpeg-turbo) and frames are resized
  by ``cv2.resize``, as ``mmcv.imfrombytes`` / ``mmcv.imresize`` do in MMAction2: the pixels an
  MMAction2 pipeline makes, bit for bit. Needs OpenCV (``pip install opencv-python-headless``).
- ``"fast"``: FFmpeg (through PyAV) decodes frames and torch resizes them (``Resize`` and
  decode-time resizing may use FFmpeg's scaler); no OpenCV needed. Decoded JPEG pixels differ
  from OpenCV's by a few levels and bilinear resizing by one level on some pixels.

The mode is read, in this order, from :func:`set_pixel_mode`, the ``VIDLAB_PIXELS``
environment variable (which DataLoader workers inherit), and the default: ``"mmaction2"`` where
OpenCV is installed, else ``"fast"`` (see docs/pixels.md for the measurement behind it).
Video files are decoded identically in both modes (already MMAction2's pixels).
"""

from __future__ import annotations

import importlib.util
import os

__all__ = ["PIXEL_MODES", "cv2_module", "pixel_mode", "set_pixel_mode", "use_cv2"]

PIXEL_MODES = ("mmaction2", "fast")
_mode: str | None = None


def set_pixel_mode(mode: str | None) -> None:
    """Set the pixel mode of this process (``None``: back to the environment / default).

    Also sets ``VIDLAB_PIXELS`` so that DataLoader workers started afterwards agree.
    """
    global _mode
    if mode is not None and mode not in PIXEL_MODES:
        raise ValueError(f"pixel mode {mode!r} is not known; use one of {PIXEL_MODES}")
    _mode = mode
    if mode is None:
        os.environ.pop("VIDLAB_PIXELS", None)
    else:
        os.environ["VIDLAB_PIXELS"] = mode


def cv2_module():
    """OpenCV, single-threaded as MMEngine sets it: DataLoader workers are the parallelism,
    and OpenCV's thread pool does not survive the fork that starts them."""
    try:
        import cv2
    except ImportError as e:
        raise ImportError(
            "MMAction2's pixels (OpenCV decode and resize) need OpenCV: "
            "pip install opencv-python-headless, or use the 'fast' pixel mode"
        ) from e
    global _cv2_ready
    if not _cv2_ready:
        cv2.setNumThreads(0)
        _cv2_ready = True
    return cv2


_cv2_ready = False


def _has_cv2() -> bool:
    return importlib.util.find_spec("cv2") is not None


def pixel_mode() -> str:
    """The pixel mode in effect (see the module docstring)."""
    mode = _mode or os.environ.get("VIDLAB_PIXELS") or None
    if mode is None:
        return "mmaction2" if _has_cv2() else "fast"
    if mode not in PIXEL_MODES:
        raise ValueError(f"VIDLAB_PIXELS={mode!r} is not known; use one of {PIXEL_MODES}")
    if mode == "mmaction2" and not _has_cv2():
        raise ImportError(
            "pixel mode 'mmaction2' (MMAction2's exact pixels) needs OpenCV: "
            "pip install opencv-python-headless, or use the 'fast' mode"
        )
    return mode


def use_cv2() -> bool:
    """Whether frames are decoded and resized with OpenCV now."""
    return pixel_mode() == "mmaction2"


# mmcv.imresize's interpolation names -> OpenCV flags (looked up when OpenCV is used)
CV2_INTERPOLATION = {
    "nearest": "INTER_NEAREST",
    "bilinear": "INTER_LINEAR",
    "bicubic": "INTER_CUBIC",
    "area": "INTER_AREA",
    "lanczos": "INTER_LANCZOS4",
}


def cv2_resize(imgs, size: tuple[int, int], interpolation: str = "bilinear"):
    """``cv2.resize`` of every frame to ``size = (w, h)``, as ``mmcv.imresize``; one array."""
    import numpy as np

    cv2 = cv2_module()
    flag = getattr(cv2, CV2_INTERPOLATION[interpolation])
    first = imgs[0]
    out = np.empty((len(imgs), size[1], size[0]) + first.shape[2:], dtype=first.dtype)
    for k, img in enumerate(imgs):
        out[k] = cv2.resize(np.ascontiguousarray(img), size, interpolation=flag).reshape(
            out.shape[1:]
        )
    return out
