"""Sources of the loading transforms: a sample's video file, frame folder or array opened with
``vidlab.data.io`` (``open_source``), and the fields the transforms use set in its results
dict (``ensure_source_info``): ``total_frames`` counted from the stream, the first file number
of a frame folder, the frame shift of an explicit ``start_index``, and the check for missing
numbers in a folder. The transforms themselves are in :mod:`vidlab.data.loading`, whose
docstring gives the index convention.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import warnings

import numpy as np

__all__ = ["open_source", "ensure_source_info"]

log = logging.getLogger(__name__)

_noted: set = set()


def _note_once(key, msg: str, level: int = logging.INFO) -> None:
    if key not in _noted:
        _noted.add(key)
        log.log(level, msg)


# --------------------------------------------------------------------------------------------
# sources: readers of vidlab.data.io, with the fields the transforms use
# --------------------------------------------------------------------------------------------
class _Source:
    """An open reader of ``vidlab.data.io`` and what the transforms read off it.

    Attributes:
        kind: ``'video'``, ``'frames'`` (a frame folder) or ``'array'``.
        path: the file, folder or URL (``'<array>'`` for an array).
        total_frames, avg_fps, start_index, height, width: from the reader's ``VideoInfo``
            (``start_index``: number of a folder's first file; 0 otherwise).
    """

    def __init__(self, reader, kind: str, path: str):
        info = reader.info
        self.reader = reader
        self.kind = kind
        self.path = path
        self.total_frames = int(info.num_frames)
        self.avg_fps = info.fps
        self.start_index = int(info.start_index)
        width, height = info.upright_size  # readers return frames upright by default
        self.height, self.width = int(height), int(width)
        self.layout = getattr(reader, "layout", None)  # a frame folder's files

    def read(self, positions: np.ndarray, short_side: int | None = None) -> np.ndarray:
        """Frames at 0-based ``positions`` of the source, (T, H, W, C) uint8."""
        try:
            return self.reader.read(positions, short_side=short_side)
        except IndexError as e:
            e.add_note("check start_index, offset and total_frames of the sample's annotation")
            raise

    def close(self) -> None:
        self.reader.close()

    def __len__(self) -> int:
        """The number of frames, as ``len()`` of MMAction2's readers gives it."""
        return self.total_frames

    def __repr__(self) -> str:
        return f"_Source({self.kind}, {self.path!r}, {self.total_frames} frames)"


def _open_folder(path: str, modality: str, filename_tmpl: str | None):
    """A folder reader; ``filename_tmpl`` picks the series when it names one, else the files
    that are there are read (a template left at its default must not lose a dataset)."""
    from vidlab.data.io import DecodeError

    try:
        return _open_quietly(path, modality=modality, filename_tmpl=filename_tmpl)
    except DecodeError:
        if filename_tmpl is None:
            raise
    reader = _open_quietly(path, modality=modality)  # an error here says what the folder holds
    _note_once(
        ("tmpl", path),
        f"{path}: no files named like {filename_tmpl!r}; reading the series "
        f"{reader.layout.filename_tmpl!r} that is there",
    )
    return reader


def _open_quietly(path: str, **kwargs):
    """A folder reader without the reader's warning about missing numbers: `_set_info` makes
    those an error where the clip would use them."""
    from vidlab.data.io import open_video

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*frame numbers missing")
        return open_video(path, **kwargs)


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
    """Open the source named in ``results`` (see the module docstring for how it is detected).

    Raises:
        FileNotFoundError: the path does not exist (the message names it).
        vidlab.data.io.DecodeError: the source cannot be read.
    """
    from vidlab.data.io import open_video

    key, ref = _source_ref(results)
    modality = results.get("modality", "RGB")
    if isinstance(ref, np.ndarray):
        return _Source(open_video(ref, modality=modality), "array", "<array>")
    ref = os.fspath(ref)
    if os.path.isdir(ref):
        reader = _open_folder(ref, modality, results.get("filename_tmpl"))
        return _Source(reader, "frames", ref)
    if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", ref) and not os.path.exists(ref):
        if key == "filename" and os.path.splitext(ref)[1] == "" and os.path.exists(ref + ".mp4"):
            ref = ref + ".mp4"  # DecordInit's convention for extension-less names
        else:
            what = "frame folder" if key == "frame_dir" else "video file"
            raise FileNotFoundError(f"{ref}: {what} does not exist")
    backend = _resolve_backend(backend, fallback)
    reader = open_video(ref, backend, threads=num_threads or 1, modality=modality)
    info = reader.info
    if info.rotation:
        _note_once(
            ("rotated", ref),
            f"{ref}: rotated {info.rotation} degrees for display (a display matrix); its "
            f"frames are returned upright, {info.upright_size[0]}x{info.upright_size[1]}",
        )
    return _Source(reader, "video", ref)


def ensure_source_info(results: dict, **open_kwargs) -> dict:
    """Set ``total_frames``, ``avg_fps``, ``start_index`` and ``video_reader`` if missing."""
    source = results.get("video_reader")
    if not isinstance(source, _Source):
        source = open_source(results, **open_kwargs)
        results["video_reader"] = source
    _set_info(results, source)
    return results


def _set_info(results: dict, source: _Source) -> None:
    shift = _frame_shift(results, source)
    results["frame_shift"] = shift
    if source.kind == "frames":
        given = results.get("total_frames")
        first = source.start_index + shift  # number of the clip's first file
        last = source.layout.last if source.layout is not None else None
        if results.get("offset") is not None and given is not None:
            # a clip of a longer folder (with_offset annotations): check that it fits
            offset = int(results["offset"])
            available = source.total_frames - shift if last is None else last - first + 1
            if offset + int(given) > available:
                raise ValueError(
                    f"{source.path}: the annotation says {given} frames from offset {offset}, but "
                    f"the folder has {available} frames numbered from {first}"
                )
            _check_gaps(source, first + offset, first + offset + int(given) - 1)
        else:
            if last is not None:
                _check_gaps(source, first, last)
                total = last - first + 1
            else:
                total = source.total_frames - shift
            if given is not None and int(given) != total:
                _note_once(
                    ("count", source.path),
                    f"{source.path}: the annotation says {given} frames, the folder has "
                    f"{total} from number {first}; using {total}",
                    logging.WARNING,
                )
            results["total_frames"] = total
    else:
        results["total_frames"] = source.total_frames - shift
    if results.get("start_index") is None:
        results["start_index"] = source.start_index
    if source.avg_fps:
        results["avg_fps"] = source.avg_fps


def _frame_shift(results: dict, source: _Source) -> int:
    """An explicit ``start_index`` minus the number of the source's first frame (0 if none).

    The dataset marks a ``start_index`` the user gave with ``explicit_start_index``; MMAction2
    reads file number ``start_index`` as the clip's first frame, and so does vidlab. A number
    below the first file contradicts the files: an error, not a silent correction.
    """
    if not results.get("explicit_start_index") or results.get("start_index") is None:
        return 0
    wanted = int(results["start_index"])
    shift = wanted - source.start_index
    if shift < 0:
        from vidlab.data.io import DecodeError

        if source.kind == "frames":
            name = source.layout.files[source.start_index] if source.layout else "?"
            have = f"its first frame file is number {source.start_index} ({name})"
        else:
            have = f"a {source.kind}'s frames are numbered from {source.start_index}"
        raise DecodeError(
            f"{source.path}: start_index={wanted} (set on the dataset) contradicts the files: "
            f"{have}. Set start_index={source.start_index}, or leave start_index out and "
            "vidlab reads it off the files",
            None if source.kind == "array" else source.path,
        )
    if shift >= source.total_frames and source.kind != "frames":
        from vidlab.data.io import DecodeError

        raise DecodeError(
            f"{source.path}: start_index={wanted} (set on the dataset) is past the last frame "
            f"({source.total_frames} frames numbered from {source.start_index})",
            None if source.kind == "array" else source.path,
        )
    return shift


def _check_gaps(source: _Source, first: int, last: int) -> None:
    """A frame folder must hold every number from ``first`` to ``last``: a clip never quietly
    uses fewer frames than the folder claims."""
    layout = source.layout
    if layout is None:
        return
    from vidlab.data.io import DecodeError
    from vidlab.data.io.frames import _ranges

    if first not in layout.files:
        raise DecodeError(
            f"{source.path}: no frame file number {first} "
            f"({layout.filename_tmpl.format(first)}); the folder's files are numbered "
            f"{min(layout.files)}..{max(layout.files)}",
            source.path,
        )
    missing = [n for n in layout.missing if first <= n <= last]
    if missing:
        raise DecodeError(
            f"{source.path}: frame files missing for numbers {_ranges(missing)} "
            f"({layout.filename_tmpl.format(missing[0])}{', ...' if len(missing) > 1 else ''}; "
            f"template {layout.filename_tmpl!r}, files numbered "
            f"{min(layout.files)}..{max(layout.files)}); "
            "re-extract the frames of this folder, or set on_error='skip' on the dataset to skip "
            "it and list it in bad_samples.txt",
            source.path,
        )
