"""Opening and decoding: ``VideoInit`` / ``VideoDecode`` and MMAction2's names for them.

The kind of input is detected from the results dict, not configured:

- ``filename`` (or ``frame_dir``) naming a video file or an http(s) URL: read with
  ``vidlab.data.io`` (frame-exact; ``total_frames`` counted from the stream, not the header);
- ``frame_dir`` (or ``filename``) naming a folder of images: the file template and the number of
  the first file are read off the folder's files, whatever ``filename_tmpl`` and ``start_index``
  say, so a wrong ``start_index`` cannot make a frame go missing;
- a NumPy array ``(T, H, W, C)`` in ``filename``, ``frame_dir`` or ``array``.

So a pipeline written for videos (``DecordInit, SampleFrames, DecordDecode``) runs on a frame
folder, and one written for frame folders (``SampleFrames, RawFrameDecode``) runs on a video:
samplers open the source themselves when no Init step set ``total_frames``.

Index convention: ``frame_inds`` (from a sampler) count from ``start_index``; the frame read for
index ``i`` is position ``i - start_index + offset`` of the source (``offset`` from
``with_offset`` annotations, 0 otherwise), position 0 being the first frame of the video or the
first file of the folder.
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import os
import re
from collections import OrderedDict

import numpy as np

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
    "open_source",
    "ensure_source_info",
    "scan_frame_folder",
]

log = logging.getLogger(__name__)

_LOCAL_IO = (None, "disk", "local")
_IMG_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
_NUM_RE = re.compile(r"^(?P<prefix>.*?)(?P<num>\d+)(?P<ext>\.[A-Za-z0-9]+)$")
_noted: set = set()


def _note_once(key, msg: str, level: int = logging.INFO) -> None:
    if key not in _noted:
        _noted.add(key)
        log.log(level, msg)


# --------------------------------------------------------------------------------------------
# frame folders
# --------------------------------------------------------------------------------------------
class FolderLayout:
    """What a frame folder holds: template, first number, contiguous count, gaps.

    Attributes:
        frame_dir: the folder.
        tmpl: ``str.format`` template of a file name (``'img_{:05d}.jpg'``; for flow
            ``'{}_{:05d}.jpg'`` with ``'x'``/``'y'`` as first argument).
        start: the number of the first file.
        num_frames: files in the contiguous run from ``start``.
        numbers: every number present.
        flow: whether the template takes the x/y direction.
    """

    def __init__(self, frame_dir, tmpl, start, numbers, flow):
        self.frame_dir = frame_dir
        self.tmpl = tmpl
        self.start = start
        self.numbers = numbers
        self.flow = flow
        n = 0
        while start + n in numbers:
            n += 1
        self.num_frames = n

    def path(self, number: int, direction: str | None = None) -> str:
        name = self.tmpl.format(direction, number) if self.flow else self.tmpl.format(number)
        return os.path.join(self.frame_dir, name)

    def missing_after(self) -> list[int]:
        """Numbers absent between the first and the last present."""
        hi = max(self.numbers) if self.numbers else self.start
        return [k for k in range(self.start, hi + 1) if k not in self.numbers][:20]


_layout_cache: OrderedDict = OrderedDict()


def scan_frame_folder(frame_dir: str, modality: str = "RGB") -> FolderLayout:
    """Detect the file template and first number of a frame folder (cached per folder mtime).

    Raises:
        FileNotFoundError: the folder is missing or holds no numbered images.
    """
    try:
        st = os.stat(frame_dir)
    except FileNotFoundError:
        raise FileNotFoundError(f"{frame_dir}: frame folder does not exist") from None
    key = (os.fspath(frame_dir), st.st_mtime_ns, modality)
    hit = _layout_cache.get(key)
    if hit is not None:
        _layout_cache.move_to_end(key)
        return hit
    groups: dict[tuple[str, str], dict[int, str]] = {}
    for name in os.listdir(frame_dir):
        m = _NUM_RE.match(name)
        if not m or m["ext"].lower() not in _IMG_EXTS:
            continue
        groups.setdefault((m["prefix"], m["ext"]), {})[int(m["num"])] = m["num"]

    def template(prefix: str, ext: str, nums: dict[int, str]) -> tuple[str, set[int]]:
        width = min(len(s) for s in nums.values())
        spec = f"{{:0{width}d}}" if width > 1 else "{:d}"
        ok = {k for k, s in nums.items() if s == format(k, spec[2:-1])}
        return prefix.replace("{", "{{").replace("}", "}}") + spec + ext, ok

    layout = None
    if modality == "Flow":
        best = None
        for (prefix, ext), nums in groups.items():
            i = prefix.rfind("x")
            if i < 0:
                continue
            y_prefix = prefix[:i] + "y" + prefix[i + 1 :]
            if (y_prefix, ext) not in groups:
                continue
            both = {k: s for k, s in nums.items() if k in groups[(y_prefix, ext)]}
            if both and (best is None or len(both) > len(best[2])):
                best = (prefix, ext, both, i)
        if best is not None:
            prefix, ext, nums, i = best
            tmpl, ok = template(prefix, ext, nums)
            j = tmpl.find("x", i)  # the escaped prefix keeps the x at or after i
            tmpl = tmpl[:j] + "{}" + tmpl[j + 1 :]
            layout = FolderLayout(frame_dir, tmpl, min(ok), ok, flow=True)
    else:

        def is_flow(prefix: str) -> bool:
            return bool(re.search(r"(^|[_\-])[xy][_\-]?$", prefix))

        cands = sorted(groups.items(), key=lambda kv: (is_flow(kv[0][0]), -len(kv[1])))
        if cands:
            (prefix, ext), nums = cands[0]
            tmpl, ok = template(prefix, ext, nums)
            layout = FolderLayout(frame_dir, tmpl, min(ok), ok, flow=False)
    if layout is None:
        what = "x_/y_ flow image pairs" if modality == "Flow" else "numbered images"
        raise FileNotFoundError(f"{frame_dir}: no {what} found in the frame folder")
    _layout_cache[key] = layout
    while len(_layout_cache) > 256:
        _layout_cache.popitem(last=False)
    return layout


def _read_image(path: str, gray: bool = False) -> np.ndarray:
    """Decode one image file (JPEG, PNG, ...) with FFmpeg through PyAV; RGB or gray uint8."""
    import av

    try:
        with av.open(path) as container:
            stream = container.streams.video[0]
            stream.codec_context.thread_count = 1
            frame = next(container.decode(stream))
            return frame.to_ndarray(format="gray" if gray else "rgb24")
    except FileNotFoundError:
        raise
    except (av.error.FFmpegError, StopIteration, IndexError) as e:
        raise _decode_error(path, f"cannot decode image ({type(e).__name__}: {e})") from e


def _decode_error(path, message: str) -> Exception:
    try:
        from vidlab.data.io import DecodeError
    except ImportError:  # pragma: no cover - io not installed
        return OSError(f"{path}: {message}")
    return DecodeError(f"{path}: {message}", path=path)


# --------------------------------------------------------------------------------------------
# sources
# --------------------------------------------------------------------------------------------
class _Source:
    kind = ""
    path = None
    total_frames = 0
    avg_fps = None
    start_index = 0
    height = 0
    width = 0

    def read(self, positions: np.ndarray, short_side: int | None = None) -> np.ndarray:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def _check(self, positions: np.ndarray) -> np.ndarray:
        positions = np.asarray(positions, dtype=np.int64).reshape(-1)
        if positions.size and (positions.min() < 0 or positions.max() >= self.total_frames):
            bad = int(positions.min()) if positions.min() < 0 else int(positions.max())
            raise IndexError(
                f"{self.path}: frame position {bad} is outside the {self.total_frames} frames of the "
                "source (check start_index, offset and total_frames of its annotation)"
            )
        return positions


def _short_side_resize(frames: np.ndarray, short_side: int | None) -> np.ndarray:
    if not short_side:
        return frames
    from vidlab.data.transforms.spatial import rescale_size, resize_frames

    h, w = frames.shape[1:3]
    return resize_frames(frames, rescale_size((w, h), (np.inf, int(short_side))))


class _ArraySource(_Source):
    kind = "array"

    def __init__(self, array: np.ndarray, name: str = "<array>"):
        array = np.asarray(array)
        if array.ndim == 3:
            array = array[..., None]
        if array.ndim != 4:
            raise ValueError(
                f"{name}: an array source must be (T, H, W, C), got shape {array.shape}"
            )
        self.array = array
        self.path = name
        self.total_frames = array.shape[0]
        self.height, self.width = array.shape[1:3]

    def read(self, positions, short_side=None):
        return _short_side_resize(self.array[self._check(positions)], short_side)


class _VideoSource(_Source):
    kind = "video"

    def __init__(self, path: str, backend: str = "auto", num_threads: int | None = None):
        from vidlab.data.io import open_video

        kwargs = {"backend": backend}
        if num_threads is not None:
            params = inspect.signature(open_video).parameters
            for name in ("num_threads", "threads"):
                if name in params:
                    kwargs[name] = num_threads
                    break
        self.reader = open_video(path, **kwargs)
        info = self.reader.info
        self.path = path
        self.total_frames = int(info.num_frames)
        self.avg_fps = info.fps
        self.height, self.width = int(info.height), int(info.width)

    def read(self, positions, short_side=None):
        return self.reader.read(self._check(positions), short_side=short_side)

    def close(self):
        self.reader.close()


class _FolderSource(_Source):
    kind = "frames"

    def __init__(self, frame_dir: str, modality: str = "RGB", filename_tmpl: str | None = None):
        self.layout = scan_frame_folder(frame_dir, modality)
        self.path = frame_dir
        self.modality = modality
        self.total_frames = self.layout.num_frames
        self.start_index = self.layout.start
        if filename_tmpl is not None:
            given = self._given_matches(filename_tmpl)
            if not given:
                _note_once(
                    ("tmpl", frame_dir),
                    f"{frame_dir}: files are named like {self.layout.tmpl!r}, not "
                    f"{filename_tmpl!r}; reading the files that are there",
                )
        missing = self.layout.missing_after()
        if missing:
            _note_once(
                ("gap", frame_dir),
                f"{frame_dir}: numbering has gaps (missing {missing}); using the "
                f"{self.total_frames} contiguous frames from {self.layout.start}",
                logging.WARNING,
            )
        self.height = self.width = 0

    def _given_matches(self, tmpl: str) -> bool:
        try:
            name = (
                tmpl.format("x", self.layout.start)
                if self.layout.flow
                else tmpl.format(self.layout.start)
            )
        except (IndexError, KeyError, ValueError):
            return False
        first = self.layout.path(self.layout.start, "x" if self.layout.flow else None)
        return os.path.basename(first) == name

    def _load(self, number: int) -> np.ndarray:
        if number not in self.layout.numbers:
            raise FileNotFoundError(
                f"{self.path}: frame {number} ({os.path.basename(self.layout.path(number, 'x' if self.layout.flow else None))}) "
                f"is missing; the folder has {self.layout.num_frames} contiguous frames numbered "
                f"from {self.layout.start}"
            )
        if self.modality == "Flow":
            x = _read_image(self.layout.path(number, "x"), gray=True)
            y = _read_image(self.layout.path(number, "y"), gray=True)
            return np.stack([x, y], axis=-1)
        return _read_image(self.layout.path(number))

    def read(self, positions, short_side=None):
        positions = np.asarray(positions, dtype=np.int64).reshape(-1)
        if positions.size and positions.min() < 0:
            raise IndexError(f"{self.path}: negative frame position {int(positions.min())}")
        cache: dict[int, np.ndarray] = {}
        frames = []
        for p in positions.tolist():
            img = cache.get(p)
            if img is None:
                img = cache[p] = self._load(self.layout.start + p)
            frames.append(img)
        shapes = {f.shape for f in frames}
        if len(shapes) > 1:
            raise _decode_error(self.path, f"frames have different sizes {sorted(shapes)}")
        out = np.stack(frames) if frames else np.zeros((0, 0, 0, 3), np.uint8)
        if out.size:
            self.height, self.width = out.shape[1:3]
        return _short_side_resize(out, short_side)


def _source_ref(results: dict):
    """The thing to open: an array, a folder or a file/URL, from the usual keys."""
    for key in ("array", "filename", "frame_dir"):
        v = results.get(key)
        if v is not None:
            return key, v
    raise KeyError(
        "no source in the results: expected 'filename' (video file, URL or folder), "
        f"'frame_dir' (frame folder) or 'array'; keys are {sorted(results)}"
    )


def _resolve_backend(backend: str, fallback: bool) -> str:
    modules = {"decord": "decord", "opencv": "cv2", "torchcodec": "torchcodec"}
    mod = modules.get(backend)
    if fallback and mod is not None and importlib.util.find_spec(mod) is None:
        _note_once(
            ("backend", backend),
            f"{backend} is not installed; reading videos with vidlab's default backend instead",
        )
        return "auto"
    return backend


def open_source(
    results: dict, backend: str = "auto", num_threads: int | None = None, fallback: bool = False
) -> _Source:
    """Open the source named in ``results`` (see the module docstring for how it is detected)."""
    key, ref = _source_ref(results)
    modality = results.get("modality", "RGB")
    if isinstance(ref, np.ndarray):
        return _ArraySource(ref)
    ref = os.fspath(ref)
    if os.path.isdir(ref):
        return _FolderSource(ref, modality, results.get("filename_tmpl"))
    if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", ref) and not os.path.exists(ref):
        if key == "filename" and os.path.splitext(ref)[1] == "" and os.path.exists(ref + ".mp4"):
            ref = ref + ".mp4"  # DecordInit's convention for extension-less names
        else:
            what = "frame folder" if key == "frame_dir" else "video file"
            raise FileNotFoundError(f"{ref}: {what} does not exist")
    return _VideoSource(ref, _resolve_backend(backend, fallback), num_threads)


def ensure_source_info(results: dict, **open_kwargs) -> dict:
    """Set ``total_frames``, ``avg_fps``, ``start_index`` and ``video_reader`` if missing."""
    source = results.get("video_reader")
    if not isinstance(source, _Source):
        source = open_source(results, **open_kwargs)
        results["video_reader"] = source
    _set_info(results, source)
    return results


def _set_info(results: dict, source: _Source) -> None:
    if source.kind == "frames":
        given = results.get("total_frames")
        if results.get("offset") is not None and given is not None:
            # a clip of a longer folder (with_offset annotations): check that it fits
            offset = int(results["offset"])
            if offset + int(given) > source.total_frames:
                raise ValueError(
                    f"{source.path}: the annotation says {given} frames from offset {offset}, but "
                    f"the folder has {source.total_frames} contiguous frames numbered from "
                    f"{source.start_index}"
                )
        else:
            if given is not None and int(given) != source.total_frames:
                _note_once(
                    ("count", source.path),
                    f"{source.path}: the annotation says {given} frames, the folder has "
                    f"{source.total_frames}; using {source.total_frames}",
                    logging.WARNING,
                )
            results["total_frames"] = source.total_frames
    else:
        results["total_frames"] = source.total_frames
    if results.get("start_index") is None:
        results["start_index"] = source.start_index
    if source.avg_fps:
        results["avg_fps"] = source.avg_fps


# --------------------------------------------------------------------------------------------
# transforms
# --------------------------------------------------------------------------------------------
def _check_io_backend(io_backend) -> None:
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

    def __init__(
        self, backend: str = "auto", io_backend: str = "disk", num_threads: int = 1, **kwargs
    ):
        _check_io_backend(io_backend)
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

    Sets ``img_shape`` and ``original_shape`` (h, w) and closes the reader. With ``short_side``
    the frames are scaled during decoding so that their short side is ``short_side`` (as a
    following ``Resize(scale=(-1, short_side))`` would), and ``scale_factor`` records it.

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
            positions = frame_inds.astype(np.int64) - start + int(results.get("offset") or 0)
            imgs = source.read(positions, short_side=self.short_side)
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
        if self.short_side:
            results["scale_factor"] = np.array([w / orig[1], h / orig[0]], dtype=np.float32)
            results["keep_ratio"] = True
        return results

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
    """MMAction2's ``OpenCVInit``: OpenCV when installed, else vidlab's default reader."""

    _fallback = True

    def __init__(self, io_backend: str = "disk", **kwargs):
        super().__init__(backend="opencv", io_backend=io_backend, **kwargs)


class OpenCVDecode(VideoDecode):
    """MMAction2's ``OpenCVDecode``."""


class RawFrameDecode(VideoDecode):
    """MMAction2's ``RawFrameDecode``: frames of a folder (or of a video, detected).

    ``filename_tmpl``, ``start_index`` and ``offset`` come from the dataset; the folder's own
    naming wins when they disagree. ``modality='Flow'`` reads x/y gray image pairs into
    ``(H, W, 2)`` frames.

    Args:
        io_backend: only ``'disk'``.
        decoding_backend: accepted (MMAction2's image decoder); images are decoded with FFmpeg.
    """

    def __init__(
        self,
        io_backend: str = "disk",
        decoding_backend: str = "cv2",
        short_side: int | None = None,
        **kwargs,
    ):
        _check_io_backend(io_backend)
        super().__init__(short_side=short_side)
        self.io_backend = io_backend
        self.decoding_backend = decoding_backend
