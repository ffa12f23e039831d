"""Frame folders: a directory of numbered images (``img_00001.jpg``, ``00000.png``, ...).

The filename template and the first number are read off the files. Images are decoded by
OpenCV in the ``"mmaction2"`` pixel mode (MMAction2's pixels exactly; see
:mod:`vidlab.data.pixels`), else by FFmpeg through PyAV (one reused JPEG/PNG decoder per
reader, fed the file's bytes), so no image library is needed.
"""

from __future__ import annotations

import os
import re
import time
import warnings
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import cached_property

import av
import numpy as np

from vidlab.data.io.base import (
    DecodeError,
    ReaderBase,
    VideoInfo,
    as_indices,
    in_order,
    output_size,
)
from vidlab.data.io.convert import RGBConverter

__all__ = [
    "FlowFolderReader",
    "FrameFolderReader",
    "FrameLayout",
    "ImageEncoder",
    "scan_flow_folder",
    "scan_folder",
]

IMAGE_CODECS = {
    ".jpg": "mjpeg",
    ".jpeg": "mjpeg",
    ".png": "png",
    ".bmp": "bmp",
    ".webp": "webp",
    ".tif": "tiff",
    ".tiff": "tiff",
}
LOSSY_CODECS = ("mjpeg", "webp")  # their pixels depend on the decoder
_NAME = re.compile(r"^(?P<prefix>.*?)(?P<num>\d+)(?P<ext>\.[A-Za-z]+)$")
# Optical-flow folders (MMAction2's denseflow layout) hold x_/y_ images beside img_ ones.
_FLOW_PREFIXES = ("x_", "y_", "flow_x_", "flow_y_")


@dataclass(frozen=True)
class FrameLayout:
    """How the images of one folder are named.

    Attributes:
        files: Frame number -> file name, for every image of the chosen series.
        start_index: The lowest frame number.
        num_frames: Length of the contiguous run of numbers from `start_index`.
        filename_tmpl: A ``str.format`` template giving the names (``"img_{:05d}.jpg"``).
        missing: Numbers absent between the lowest and the highest.
    """

    folder: str
    files: dict[int, str]
    start_index: int
    num_frames: int
    filename_tmpl: str
    missing: tuple[int, ...]

    @cached_property
    def last(self) -> int:
        """The highest frame number (kept: an AVA movie's folder has 27000)."""
        return max(self.files)


def _list_series(folder: str) -> dict[tuple[str, str], dict[int, str]]:
    """(prefix, extension) -> {number: file name} for the numbered images of `folder`."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        raise DecodeError(f"{folder}: no such frame folder", folder) from None
    except NotADirectoryError:
        raise DecodeError(f"{folder}: not a directory", folder) from None
    except PermissionError as e:
        raise DecodeError(f"{folder}: permission denied ({e.strerror})", folder) from None
    series: dict[tuple[str, str], dict[int, str]] = defaultdict(dict)
    for name in names:
        m = _NAME.match(name)
        if m is None or m["ext"].lower() not in IMAGE_CODECS:
            continue
        series[(m["prefix"], m["ext"])][int(m["num"])] = name
    if not series:
        raise DecodeError(
            f"{folder}: no numbered images (expected names like img_00001.jpg or 000000.png, "
            f"with extensions {', '.join(sorted(IMAGE_CODECS))})",
            folder,
        )
    return series


def _layout(folder: str, key: tuple[str, str], files: dict[int, str]) -> FrameLayout:
    numbers = sorted(files)
    start = numbers[0]
    lengths = {len(_NAME.match(name)["num"]) for name in files.values()}
    # one length: zero-padded to it (or all numbers just that long)
    digits = f"{{:0{min(lengths)}d}}" if len(lengths) == 1 else "{:d}"
    tmpl = key[0].replace("{", "{{").replace("}", "}}") + digits + key[1]
    present = set(numbers)
    count = 0
    while start + count in present:
        count += 1
    missing = tuple(k for k in range(start, numbers[-1] + 1) if k not in present)
    return FrameLayout(folder, files, start, count, tmpl, missing)


# Folder scans by (absolute folder, template): (the folder's mtime, layout). An AVA movie's
# folder holds 27000 frames and each of its ~900 keyframes opens it: listing and parsing the
# names took ~40 ms a sample (4x the decoding of a 32-frame clip); the directory's mtime
# changes whenever a file is added, removed or renamed, so a changed folder is scanned again.
# Only folders unchanged for a second are kept: mtimes are coarser than a fast test's edits.
_SCANS: OrderedDict[tuple[str, str | None], tuple[int, FrameLayout]] = OrderedDict()
_SCANS_KEPT = 128


def scan_folder(folder: str | os.PathLike, filename_tmpl: str | None = None) -> FrameLayout:
    """Find the series of numbered images in `folder` (remembered while the folder's mtime
    stays the same, for the 128 folders scanned last, see ``_SCANS``).

    Args:
        folder: The directory.
        filename_tmpl: Choose the series this template names (e.g. ``"x_{:05d}.jpg"`` for the
            x-flow images of a denseflow folder); by default the RGB series (``img_`` where
            there are several), else the largest.

    Raises:
        DecodeError: The folder is missing or unreadable, or holds no numbered images.
    """
    folder = os.fspath(folder)
    try:
        mtime = os.stat(folder).st_mtime_ns
    except OSError:
        mtime = None  # _list_series says what is wrong
    cache_key = (os.path.abspath(folder), filename_tmpl)
    hit = _SCANS.get(cache_key)
    if hit is not None and hit[0] == mtime:
        _SCANS.move_to_end(cache_key)
        layout = hit[1]
        return layout if layout.folder == folder else replace(layout, folder=folder)
    series = _list_series(folder)
    key = _choose_series(folder, series, filename_tmpl)
    layout = _layout(folder, key, series[key])
    if mtime is not None and time.time_ns() - mtime > 1_000_000_000:
        _SCANS[cache_key] = (mtime, layout)
        while len(_SCANS) > _SCANS_KEPT:
            _SCANS.popitem(last=False)
    return layout


def scan_flow_folder(
    folder: str | os.PathLike, filename_tmpl: str | None = None
) -> tuple[FrameLayout, FrameLayout]:
    """Find the x and y series of an optical-flow folder (MMAction2's denseflow layout).

    Only the numbers present in both series are kept, so a frame is always an x/y pair.

    Args:
        folder: The directory.
        filename_tmpl: MMAction2's flow template, the direction first (``"{}_{:05d}.jpg"``,
            ``"flow_{}_{:05d}.jpg"``); by default the pair of series whose prefixes differ by
            an ``x``/``y`` (the largest, where there are several).

    Returns:
        ``(x_layout, y_layout)``, numbered alike.

    Raises:
        DecodeError: No x/y pair of series (or none matching `filename_tmpl`).
    """
    folder = os.fspath(folder)
    series = _list_series(folder)
    pairs = []
    for prefix, ext in series:
        i = prefix.lower().rfind("x")
        y_key = (prefix[:i] + "y" + prefix[i + 1 :], ext) if i >= 0 else None
        if y_key in series:
            pairs.append(((prefix, ext), y_key))
    if filename_tmpl is not None and "{}" in filename_tmpl:
        x_key = _template_key(filename_tmpl.replace("{}", "x", 1))
        pairs = [p for p in pairs if (p[0][0], p[0][1].lower()) == x_key]
    if not pairs:
        found = ", ".join(f"{p}<n>{e}" for p, e in series)
        want = f" named like {filename_tmpl!r}" if filename_tmpl else ""
        raise DecodeError(
            f"{folder}: no x/y optical-flow image pairs{want} (e.g. x_00001.jpg and "
            f"y_00001.jpg); the folder has {found}",
            folder,
        )
    x_key, y_key = max(pairs, key=lambda p: len(series[p[0]]))
    both = series[x_key].keys() & series[y_key].keys()
    if not both:
        raise DecodeError(f"{folder}: the x and y flow images share no frame number", folder)
    x_files = {k: series[x_key][k] for k in both}
    y_files = {k: series[y_key][k] for k in both}
    return _layout(folder, x_key, x_files), _layout(folder, y_key, y_files)


def _template_key(filename_tmpl: str) -> tuple[str, str]:
    """``"img_{:05d}.jpg"`` -> ``("img_", ".jpg")``: the series a template names."""
    prefix, _, rest = filename_tmpl.partition("{")
    return prefix, rest.partition("}")[2].lower()


def _choose_series(folder, series, filename_tmpl):
    if filename_tmpl is not None:
        wanted = _template_key(filename_tmpl)
        for key in series:
            if (key[0], key[1].lower()) == wanted:
                return key
        found = ", ".join(f"{p}<n>{e}" for p, e in series)
        raise DecodeError(
            f"{folder}: no images named like {filename_tmpl!r}; the folder has {found}", folder
        )
    if len(series) == 1:
        return next(iter(series))
    rgb = [k for k in series if not k[0].lower().startswith(_FLOW_PREFIXES)]
    for key in rgb:
        if key[0].lower() in ("img_", "image_", "frame_", ""):
            return key
    pool = rgb or list(series)
    return max(pool, key=lambda k: len(series[k]))


class _ImageDecoder:
    """Decodes image files with FFmpeg: one reused JPEG decoder (it keeps no state between
    pictures), a fresh one for the codecs that do."""

    def __init__(self):
        self._decoders: dict[str, av.CodecContext] = {}

    def decode(self, path: str) -> av.VideoFrame:
        codec = IMAGE_CODECS[os.path.splitext(path)[1].lower()]
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise DecodeError(f"{path}: cannot read ({e.strerror})", path) from e
        if not data:
            raise DecodeError(f"{path}: the image file is empty (0 bytes)", path)
        ctx = self._decoders.get(codec)
        if ctx is None:
            ctx = av.CodecContext.create(codec, "r")
            ctx.thread_count = 1
            if codec == "mjpeg":  # JPEG decoding keeps no state; FFmpeg's PNG decoder does
                self._decoders[codec] = ctx
        try:
            frames = ctx.decode(av.Packet(data))
            if not frames:  # a decoder that holds the picture back: drain it, then drop it
                frames = ctx.decode(None)
                self._decoders.pop(codec, None)
        except (av.error.FFmpegError, EOFError) as e:
            self._decoders.pop(codec, None)  # a failed decoder may hold bad state
            raise DecodeError(f"{path}: cannot decode the image ({e})", path) from e
        if not frames:
            self._decoders.pop(codec, None)
            raise DecodeError(f"{path}: cannot decode the image (no picture in it)", path)
        return frames[0]


def _lossy(layout: FrameLayout) -> bool:
    ext = os.path.splitext(layout.files[layout.start_index])[1].lower()
    return IMAGE_CODECS[ext] in LOSSY_CODECS


class FrameFolderReader(ReaderBase):
    """Reads a folder of numbered images as a video: index ``i`` is file number
    ``start_index + i``.

    Args:
        folder: The directory.
        filename_tmpl: Which series to read where a folder holds several (see `scan_folder`).
        interpolation: Scaler used with `short_side`.
    """

    channels = 3

    def __init__(
        self,
        folder: str | os.PathLike,
        *,
        filename_tmpl: str | None = None,
        interpolation: str = "bilinear",
    ):
        self.path = os.fspath(folder)
        self._images = _ImageDecoder()
        self._setup(self._scan(filename_tmpl), interpolation)

    def _scan(self, filename_tmpl) -> tuple[FrameLayout, ...]:
        return (scan_folder(self.path, filename_tmpl),)

    def _setup(self, layouts: tuple[FrameLayout, ...], interpolation: str) -> None:
        self.layouts = layouts
        self.layout = layout = layouts[0]
        self._interpolation = interpolation
        self._convert = RGBConverter(interpolation, "rgb24" if self.channels == 3 else "gray")
        first = self._decode(layout.start_index)
        issues = ()
        if layout.missing:
            issues = (
                f"frame numbers missing: {_ranges(layout.missing)}; "
                f"{layout.num_frames} contiguous frames from {layout.start_index}",
            )
            warnings.warn(f"{self.path}: {issues[0]}", stacklevel=3)
        self.info = VideoInfo(
            num_frames=layout.num_frames,
            fps=None,
            width=first.width,
            height=first.height,
            duration=None,
            keyframes=None,
            path=self.path,
            start_index=layout.start_index,
            codec=IMAGE_CODECS[os.path.splitext(layout.files[layout.start_index])[1].lower()],
            issues=issues,
        )

    def read(self, indices, short_side: int | None = None) -> np.ndarray:
        from vidlab.data.pixels import use_cv2

        # Only lossy images depend on the decoder; PNG/BMP/TIFF decode to the same pixels
        # anywhere (and OpenCV's libpng can clash with the zlib PyAV's FFmpeg loaded).
        cv2_mode = use_cv2() and _lossy(self.layout)
        layout = self.layout
        span = layout.last - layout.start_index + 1  # frames after a gap stay addressable
        idx = as_indices(indices, span, self.path)
        absent = sorted({int(i) + layout.start_index for i in idx} - layout.files.keys())
        if absent:
            first = layout.filename_tmpl.format(absent[0])
            raise DecodeError(
                f"{self.path}: frame files missing for numbers {_ranges(absent)} ({first}, ...; "
                f"template {layout.filename_tmpl!r}; the folder has {layout.num_frames} contiguous "
                f"frames from {layout.start_index}, then gaps at {_ranges(layout.missing)})",
                self.path,
            )
        width, height = output_size(self.info.width, self.info.height, short_side)
        targets, inverse = np.unique(idx, return_inverse=True)
        out = np.empty((len(targets), height, width, self.channels), np.uint8)
        for k, i in enumerate(targets.tolist()):
            number = i + layout.start_index
            for c, lay in enumerate(self.layouts):
                dst = out[k] if self.channels == 3 else out[k, ..., c]
                if cv2_mode:
                    self._decode_cv2(number, lay, dst)
                else:
                    self._convert.convert(self._decode(number, lay), dst)
        return in_order(out, idx, targets, inverse)

    def _decode_cv2(self, number: int, layout: FrameLayout, out: np.ndarray) -> None:
        """OpenCV's decode (and resize to ``out``'s size), as MMAction2's ``RawFrameDecode``."""
        from vidlab.data.io.image import decode_image, read_image_bytes
        from vidlab.data.pixels import cv2_resize

        path = os.path.join(self.path, layout.files[number])
        img = decode_image(
            read_image_bytes(path), path, "color" if self.channels == 3 else "grayscale", "cv2"
        )
        h, w = out.shape[:2]
        if img.shape[:2] != (h, w):
            img = cv2_resize(img[None], (w, h), self._interpolation)[0]
        out[...] = img.reshape(out.shape)

    def _decode(self, number: int, layout: FrameLayout | None = None) -> av.VideoFrame:
        layout = layout or self.layout
        return self._images.decode(os.path.join(self.path, layout.files[number]))


class FlowFolderReader(FrameFolderReader):
    """Reads the x/y image pairs of an optical-flow folder: frames are uint8 ``(H, W, 2)``
    (x, y), as MMAction2's ``RawFrameDecode`` with ``modality='Flow'`` gives them.

    Args:
        folder: The directory.
        filename_tmpl: MMAction2's flow template (``"{}_{:05d}.jpg"``); see `scan_flow_folder`.
        interpolation: Scaler used with `short_side`.
    """

    channels = 2

    def _scan(self, filename_tmpl) -> tuple[FrameLayout, ...]:
        return scan_flow_folder(self.path, filename_tmpl)


def _ranges(numbers) -> str:
    """1, 2, 3, 7 -> '1-3, 7' (at most 10 runs shown)."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    text = [f"{a}-{b}" if b > a else f"{a}" for a, b in runs[:10]]
    if len(runs) > 10:
        text.append(f"... ({len(numbers)} in all)")
    return ", ".join(text)


class ImageEncoder:
    """Encodes RGB frames to JPEG or PNG bytes with FFmpeg (one reused encoder).

    Args:
        ext: ``".jpg"``/``".jpeg"`` or ``".png"``.
        quality: JPEG quality as FFmpeg's ``-q:v``: 2 (best) to 31 (smallest).
    """

    def __init__(self, ext: str, quality: int = 2):
        ext = ext.lower()
        if ext not in (".jpg", ".jpeg", ".png"):
            raise ValueError(f"cannot write {ext!r} images; use .jpg or .png")
        if not 1 <= int(quality) <= 31:
            raise ValueError(f"quality={quality} is out of range: 2 (best) to 31 (smallest)")
        self._codec = "png" if ext == ".png" else "mjpeg"
        self._pix_fmt = "rgb24" if ext == ".png" else "yuvj420p"
        self._quality = int(quality)
        self._ctx = None
        self._size = None

    def encode(self, rgb: np.ndarray) -> bytes:
        height, width = rgb.shape[:2]
        if self._ctx is None or self._size != (width, height):
            ctx = av.CodecContext.create(self._codec, "w")
            ctx.width, ctx.height, ctx.pix_fmt = width, height, self._pix_fmt
            ctx.time_base = Fraction(1, 25)
            ctx.thread_count = 1
            if self._codec == "mjpeg":
                ctx.options = {"qmin": str(self._quality), "qmax": str(self._quality)}
            self._ctx, self._size = ctx, (width, height)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        if self._pix_fmt != "rgb24":
            frame = frame.reformat(format=self._pix_fmt, threads=1)
        packets = self._ctx.encode(frame)
        return b"".join(bytes(p) for p in packets)
