"""The frame index of a video file: one demux pass over its packets (no decoding), cached.

It gives the timestamp of every frame in presentation order, the keyframes to seek to, the true
frame count where the header has none or a wrong one (WebM/MKV report 0, live-written files have
no duration, truncated files promise more than they hold), and what looked wrong (``issues``).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass, replace
from fractions import Fraction

import av
import numpy as np

from vidlab.data.io.base import DecodeError, VideoInfo
from vidlab.data.io.mp4meta import display_rotation
from vidlab.data.io.protocols import av_open

__all__ = [
    "FrameIndex",
    "build_index",
    "clear_index_cache",
    "distrusted",
    "get_index",
    "open_container",
    "reason_of",
    "scan_packets",
]

# Demuxers that read any text as "ANSI art" video: a text file is not a video.
_TEXT_CODECS = {"ansi", "bintext", "xbin", "idf", "tty"}
# The per-process index cache holds at most this many files and frames (8 bytes a frame).
_CACHE_FILES = 8192
_CACHE_FRAMES = 4_000_000
# B-frame reordering moves a frame at most this many packets (H.264/HEVC: 16 reference frames).
_REORDER_WINDOW = 16
COUNTING = "frames are counted from the start of the file (exact, slower)"
_cache: OrderedDict[tuple, FrameIndex] = OrderedDict()
_cached_frames = 0


@dataclass(frozen=True, eq=False)
class FrameIndex:
    """Per-file facts from one demux pass.

    Attributes:
        pts: Timestamps (stream time base) of the frames in presentation order, or None where
            the stream's timestamps cannot locate frames (missing or repeated).
        keyframes: Indices of keyframes, ascending (empty where `pts` is None).
        key_pts: Timestamps to seek to for those keyframes: a keyframe's own, or, where the
            keyframe packet is discarded (an edit list), that packet's, which lies before the
            frame (the first presented frame after it is then not a keyframe).
        key_dts: Decode timestamps of the same packets (their pts where a dts is missing).
        num_frames: Frames found.
        open_gop: Some frames that follow a keyframe in decode order precede it in
            presentation order (they need the previous GOP).
        discarded: Packets that are decoded but not presented (an MP4/MOV edit list); not
            counted in `num_frames`.
        vfr: The frame durations vary.
        has_duration: The container states a duration.
        start_pts: Timestamp of the first frame (0 for most files).
        rotation: Clockwise display rotation in degrees (MP4/MOV track header; 0 elsewhere
            until a reader learns it from decoded frames).
        sample_aspect_ratio: The stream's pixel aspect ratio, or None where unstated.
    """

    pts: np.ndarray | None
    keyframes: np.ndarray
    key_pts: np.ndarray
    key_dts: np.ndarray
    num_frames: int
    time_base: Fraction | None
    fps: float | None
    width: int
    height: int
    duration: float | None
    codec: str
    format_name: str
    open_gop: bool
    discarded: int
    vfr: bool
    has_duration: bool
    start_pts: int | None
    issues: tuple[str, ...]
    rotation: int = 0
    sample_aspect_ratio: Fraction | None = None

    def locate(self, pts: int) -> int | None:
        """Index of the frame with timestamp `pts`, or None where no frame has it."""
        i = int(np.searchsorted(self.pts, pts))
        return i if i < self.num_frames and self.pts[i] == pts else None

    def keyframe_slot(self, t: int) -> int:
        """Position in `keyframes` of the last keyframe at or before frame `t` (0 if none)."""
        return max(int(np.searchsorted(self.keyframes, t, side="right")) - 1, 0)

    def info(self, path: str | None) -> VideoInfo:
        keyframes = tuple(int(k) for k in self.keyframes) if self.pts is not None else None
        return VideoInfo(
            num_frames=self.num_frames,
            fps=self.fps,
            width=self.width,
            height=self.height,
            duration=self.duration,
            keyframes=keyframes,
            path=path,
            codec=self.codec,
            issues=self.issues,
            rotation=self.rotation,
            sample_aspect_ratio=self.sample_aspect_ratio,
        )


def open_container(src: str, *, timeout: float | None = None):
    """`av.open` with errors turned into `DecodeError`s that name the file and the cause."""
    is_url = "://" in src
    if not is_url:
        if not os.path.exists(src):
            raise DecodeError(f"{src}: no such file", src)
        if os.path.isdir(src):
            raise DecodeError(f"{src}: is a directory, not a video file", src)
        if os.path.getsize(src) == 0:
            raise DecodeError(f"{src}: the file is empty (0 bytes)", src)
    try:
        if is_url:
            container = av_open(src, timeout=timeout)
        else:
            container = _open_fast(src)
    except PermissionError as e:
        raise DecodeError(f"{src}: permission denied ({e.strerror})", src) from e
    except (av.error.FFmpegError, OSError) as e:
        raise DecodeError(f"{src}: cannot open as a video: {reason_of(e)}", src) from e
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["none"]
        container.close()
        raise DecodeError(f"{src}: has no video stream (streams: {', '.join(kinds)})", src)
    stream = container.streams.video[0]
    codec = stream.codec_context.name
    if codec in _TEXT_CODECS or container.format.name in _TEXT_CODECS:
        container.close()
        raise DecodeError(f"{src}: not a video (FFmpeg reads it as text, codec {codec!r})", src)
    if not stream.codec_context.width or not stream.codec_context.height:
        container.close()
        raise DecodeError(f"{src}: the video stream has no frame size; not a readable video", src)
    return container


def _open_fast(src: str):
    """`av.open` without decoding frames while probing the stream.

    FFmpeg's stream probing decodes the first frame(s) to learn what the header already says
    for most files (the frame size, the pixel format); that costs about one keyframe's decode
    per open. The probing decoder is told to skip frames (the decoder that reads frames is a
    different one, which learns the pixel format from the stream); where the header then leaves
    the frame size unknown, the file is opened again with full probing.
    """
    container = av_open(src, options={"skip_frame": "all"})
    video = container.streams.video
    if video and not (video[0].codec_context.width and video[0].codec_context.height):
        container.close()
        container = av_open(src)
    return container


def reason_of(e: BaseException) -> str:
    """An FFmpeg error without PyAV's errno prefix and the repeated file name."""
    if isinstance(e, av.error.FFmpegError) and e.strerror:
        return e.strerror
    return str(e)


def build_index(path: str, *, timeout: float | None = None) -> FrameIndex:
    """One demux pass over the video stream of `path` (no decoding)."""
    path = os.fspath(path)
    with open_container(path, timeout=timeout) as container:
        return scan_packets(path, container)


def scan_packets(path: str, container) -> FrameIndex:
    """Build the index from `container`'s packets; leaves the container at its end.

    Packets that the demuxer marks as discarded (an MP4/MOV edit list: a cut made without
    re-encoding keeps the packets from the keyframe before the cut; a negative start time) are
    decoded but never presented: they are not counted, and a discarded keyframe is kept only
    as the place to seek to for the frames after it.
    """
    stream = container.streams.video[0]
    ts, keys, discards, key_dts = [], [], [], {}
    # Only MP4/MOV edit lists discard video packets; elsewhere the flag is not read.
    edits = "mov" in container.format.name
    error = None
    try:
        for packet in container.demux(stream):
            if packet.size:  # not the flush packets at the end
                t = packet.pts
                if t is None:
                    t = packet.dts
                ts.append(t)
                if packet.is_keyframe:
                    keys.append(True)
                    key_dts[len(ts) - 1] = packet.dts
                else:
                    keys.append(False)
                if edits:
                    discards.append(packet.is_discard)
    except (av.error.FFmpegError, OSError) as e:
        error = e
    return _make_index(path, container, stream, _Scan(ts, keys, discards, key_dts), error)


class _Scan:
    """What the demux pass learnt from the packets' timestamps and flags (decode order).

    Attributes:
        timestamps: pts (dts where missing) of the presented frames, decode order; None
            entries where a packet has neither.
        seek_points: (pts, dts) of every keyframe packet, discarded ones too.
        before_first_key: Packets before the first keyframe (not decodable, not counted).
        discarded: Packets decoded but not presented (an edit list).
        open_gop: A packet after a keyframe has an earlier timestamp than the keyframe.
        reordered: Some packet's pts is below the one before it (B-frames).
        jump_back: Position of the first packet whose timestamp goes back beyond the reorder
            window (B-frame reordering moves a frame by at most 16 packets), or None. Parts
            of the file then share a time range (captures joined with ``cat``, a restarted
            encoder).
    """

    def __init__(self, ts, keys, discards, key_dts):
        first = next((i for i, key in enumerate(keys) if key), len(keys))
        self.before_first_key = first
        self.seek_points = [
            (ts[i], ts[i] if d is None else d) for i, d in key_dts.items() if i >= first
        ]
        ts, keys, discards = ts[first:], keys[first:], discards[first:]
        self.discarded = sum(discards)
        self.open_gop = self.reordered = False
        self.jump_back = None
        if None in ts:  # a raw stream: nothing to check the order of
            self.timestamps = (
                [t for t, skip in zip(ts, discards) if not skip] if self.discarded else ts
            )
            return
        arr = np.asarray(ts, np.int64)
        self.timestamps = arr[~np.asarray(discards, bool)] if self.discarded else arr
        if not len(arr):
            return
        key = np.asarray(keys, bool)
        last_key = np.maximum.accumulate(np.where(key, np.arange(len(arr)), 0))
        self.open_gop = bool(np.any(~key & (arr < arr[last_key])))
        back = arr[1:] < arr[:-1]
        self.reordered = bool(back.any())
        w = _REORDER_WINDOW
        if self.reordered and len(arr) > w:
            settled = np.maximum.accumulate(arr)[: len(arr) - w - 1]
            jumps = np.flatnonzero(arr[w + 1 :] < settled)
            if len(jumps):
                self.jump_back = int(jumps[0]) + w + 1


def distrusted(index: FrameIndex, note: str) -> FrameIndex:
    """`index` without timestamps (frames are then counted from the start), with `note` added
    to its issues once."""
    empty = np.zeros(0, np.int64)
    issues = index.issues if note in index.issues else (*index.issues, note)
    return replace(
        index,
        pts=None,
        keyframes=empty,
        key_pts=empty,
        key_dts=empty,
        start_pts=None,
        issues=issues,
    )


def _trust_note(scan: _Scan, n: int, reorders: bool) -> str | None:
    """Why the timestamps of a stream cannot locate its frames, or None."""
    timestamps = scan.timestamps
    if isinstance(timestamps, list):
        return ""  # a raw stream: no timestamps at all, nothing wrong with it
    repeats = int(np.count_nonzero(np.diff(np.sort(timestamps)) == 0))
    if repeats:
        return f"{repeats} frames repeat another's timestamp; " + COUNTING
    if scan.jump_back is not None:
        return (
            f"the timestamps jump back at packet {scan.jump_back} (captures joined, or an "
            "encoder restarted); " + COUNTING
        )
    if reorders and not scan.reordered and n > _REORDER_WINDOW:
        return (
            "the codec reorders frames but no packet's timestamp is out of decode order: the "
            "timestamps are decode times, not presentation times; " + COUNTING
        )
    return None


def _seek_table(pts: np.ndarray, seek_points) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(keyframes, key_pts, key_dts): for each keyframe packet, the first presented frame at
    or after it, and the packet's timestamps to seek by; where several share that frame (a
    discarded keyframe before a presented one), the last."""
    points = np.asarray([p for p in seek_points if p[0] is not None], np.int64).reshape(-1, 2)
    frames = np.searchsorted(pts, points[:, 0])
    order = np.lexsort((points[:, 0], frames))  # by frame, then by timestamp
    frames, points = frames[order], points[order]
    last = np.append(frames[1:] != frames[:-1], True) & (frames < len(pts))
    return frames[last].astype(np.int64), points[last, 0].copy(), points[last, 1].copy()


def _make_index(path, container, stream, scan: _Scan, error) -> FrameIndex:
    timestamps = scan.timestamps
    n = len(timestamps)
    codec = stream.codec_context.name
    if n == 0:
        cause = f"demuxing failed: {reason_of(error)}" if error else "no keyframe in the stream"
        raise DecodeError(f"{path}: no decodable video frames ({cause})", path)
    time_base = stream.time_base
    note = _trust_note(scan, n, bool(stream.codec_context.has_b_frames))
    usable = note is None
    if usable:
        pts = np.sort(np.asarray(timestamps, np.int64))
        keyframes, key_pts, key_dts_arr = _seek_table(pts, scan.seek_points)
        diffs = np.diff(pts)
        vfr = bool(n > 2 and diffs.max() - diffs.min() > max(1, 0.01 * float(np.median(diffs))))
        span = float((pts[-1] - pts[0]) * time_base) if time_base else 0.0
    else:
        pts, vfr, span = None, False, 0.0
        keyframes = key_pts = key_dts_arr = np.zeros(0, np.int64)

    rate = stream.guessed_rate or stream.average_rate
    fps = float(rate) if rate else None
    if span > 0:
        mean_fps = (n - 1) / span
        if fps is None or abs(fps - mean_fps) > 0.01 * mean_fps:
            fps = mean_fps  # the header's rate disagrees with the timestamps: trust these
    if span > 0:
        duration = span + (1.0 / fps if fps else 0.0)
    elif container.duration:
        duration = container.duration / av.time_base
    else:
        duration = n / fps if fps else None

    issues = []
    header_frames = stream.frames
    before_first_key = scan.before_first_key
    if header_frames and header_frames > n + before_first_key + scan.discarded + 1:
        issues.append(
            f"the header says {header_frames} frames but the file holds {n}; it may be truncated"
        )
    elif container.duration and len(container.streams) == 1 and duration:
        stated = container.duration / av.time_base
        if stated - duration > max(1.0, 0.1 * stated):
            issues.append(
                f"the header says {stated:.2f} s but the frames span {duration:.2f} s; "
                "it may be truncated"
            )
    if error is not None:
        issues.append(f"demuxing stopped after {n} frames: {reason_of(error)}")
    if before_first_key:
        issues.append(f"{before_first_key} packets before the first keyframe are not counted")
    if note:
        issues.append(note)
    return FrameIndex(
        pts=pts,
        keyframes=keyframes,
        key_pts=key_pts,
        key_dts=key_dts_arr,
        num_frames=n,
        time_base=time_base,
        fps=fps,
        width=stream.codec_context.width,
        height=stream.codec_context.height,
        duration=duration,
        codec=codec,
        format_name=container.format.name,
        open_gop=scan.open_gop,
        discarded=scan.discarded,
        vfr=vfr,
        has_duration=container.duration is not None,
        start_pts=int(pts[0]) if pts is not None else None,
        issues=tuple(issues),
        rotation=_rotation(path, container.format.name),
        sample_aspect_ratio=stream.sample_aspect_ratio or None,
    )


def _rotation(path: str, format_name: str) -> int:
    """The display rotation of an MP4/MOV file's video track (0 for other containers; a
    reader learns it from the decoded frames where it differs)."""
    if "mp4" not in format_name and "mov" not in format_name or "://" in path:
        return 0
    return display_rotation(path) or 0


def _cache_key(path: str) -> tuple:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise DecodeError(f"{path}: no such file", path) from None
    except PermissionError as e:
        raise DecodeError(f"{path}: permission denied ({e.strerror})", path) from None
    return (os.path.abspath(path), st.st_size, st.st_mtime_ns)


def _cache_get(key: tuple) -> FrameIndex | None:
    index = _cache.get(key)
    if index is not None:
        _cache.move_to_end(key)
    return index


def _cache_put(key: tuple, index: FrameIndex) -> None:
    global _cached_frames
    old = _cache.pop(key, None)
    _cached_frames += index.num_frames - (old.num_frames if old is not None else 0)
    _cache[key] = index
    while len(_cache) > 1 and (len(_cache) > _CACHE_FILES or _cached_frames > _CACHE_FRAMES):
        _cached_frames -= _cache.popitem(last=False)[1].num_frames


def learn(path: str, index: FrameIndex) -> None:
    """Replace the cached index of `path` with `index` (what a reader learnt while decoding),
    where the cached one is for the file as it is now."""
    try:
        key = _cache_key(path)
    except DecodeError:
        return
    if key in _cache:
        _cache_put(key, index)


def get_index(path: str | os.PathLike) -> FrameIndex:
    """`build_index`, cached per process by (path, size, mtime)."""
    path = os.fspath(path)
    key = _cache_key(path)
    index = _cache_get(key)
    if index is None:
        index = build_index(path)
        _cache_put(key, index)
    return index


def clear_index_cache() -> None:
    global _cached_frames
    _cache.clear()
    _cached_frames = 0
