"""PyAV backend: frame-exact access by index, the default reader for video files and URLs.

How a read works:

1. A frame index is built from one demux pass over the packets (no decoding): the timestamp of
   every frame in presentation order and which frames are keyframes. It is cached per process,
   keyed by path, size and mtime. It gives the true frame count where the header has none or a
   wrong one (WebM/MKV report 0, live-written files have no duration, truncated files promise
   more than they hold).
2. Targets are decoded in sorted order. The reader seeks (to the keyframe at or before the
   target) only when the target lies behind the decode position, or in a later GOP whose
   keyframe is more than a few frames ahead; otherwise it decodes forward. Where the next
   target needs a seek anyway, the decoder is drained as soon as the target's packet is in,
   instead of being fed the packets B-frame reordering would otherwise wait for. Decoded frames
   are matched to indices by timestamp, so variable frame rates, start times other than 0 and
   B-frame reordering need no arithmetic. Packets an MP4/MOV edit list discards (a cut made
   without re-encoding, a negative start time) are not counted: a seek to the discarded
   keyframe before a frame is followed by the first presented frame, which is the anchor. A seek must land at or before its keyframe, and the
   keyframe must come out as a keyframe; where not (MPEG-TS seeks by dts, MPEG-PS resyncs
   mid-packet), the keyframe's dts, the keyframe before, then the start of the file are tried.
3. Only the frames returned are converted to RGB, by one reused single-threaded scaler.

Where timestamps cannot be trusted, the reader counts frames from the start instead, which is
exact by construction and only slower: a raw elementary stream has none; the demux pass finds
repeated timestamps, timestamps that jump back beyond the reorder window (captures joined with
``cat``), or a codec that reorders frames with no packet out of decode order (pts overwritten
by dts); a decoder returns timestamps the index does not know, or frames out of timestamp
order. The last two are learnt while reading: noted once in `VideoInfo.issues` and kept in the
index cache. (The demux-pass checks are the ones that matter: a drained decoder may legitimately
skip frames, so a reader cannot tell every broken file from its first frames.)
"""

from __future__ import annotations

import os
from dataclasses import replace

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
from vidlab.data.io.index import (
    COUNTING,
    FrameIndex,
    _cache_get,
    _cache_key,
    _cache_put,
    build_index,
    clear_index_cache,
    distrusted,
    get_index,
    learn,
    open_container,
    reason_of,
    scan_packets,
)
from vidlab.data.io.protocols import av_open

__all__ = [
    "FrameIndex",
    "PyAVReader",
    "build_index",
    "clear_index_cache",
    "get_index",
    "open_container",
    "reason_of",
]

_I_FRAME = av.video.frame.PictureType.I
# Decode on through at most this many frames before a target's keyframe rather than seeking.
_FORWARD_FRAMES = 4


class PyAVReader(ReaderBase):
    """Frame-exact reader over one video file or http(s) URL.

    Args:
        path: A local file, or an http(s) URL (streamed: no index, sequential decoding).
        threads: Decoder threads (``codec_context.thread_count``). 1 by default, since
            DataLoader workers are the parallelism; 0 lets FFmpeg choose.
        interpolation: Scaler used when `short_side` is given: ``"bilinear"`` (default),
            ``"area"``, ``"bicubic"``, ``"nearest"`` or ``"lanczos"``.
        index: A prebuilt `FrameIndex` (by default looked up in the per-process cache).
        rotate: Return frames upright where the file has a display rotation (a phone's
            display matrix; `VideoInfo.rotation`), as FFmpeg's command line and players do.
            False returns the frames as stored.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        threads: int = 1,
        interpolation: str = "bilinear",
        index: FrameIndex | None = None,
        rotate: bool = True,
    ):
        self.path = os.fspath(path)
        self._url = "://" in self.path
        self._threads = int(threads)
        self._rotate = bool(rotate)
        self._convert = RGBConverter(interpolation)
        key = None
        if index is None and not self._url:
            key = _cache_key(self.path)
            index = _cache_get(key)
        self._container = None
        self._frames = None  # generator of decoded frames from the current position
        self._pos: int | None = -1  # index of the last decoded frame; None: unknown (seeked)
        self._seek_mode = "pts"  # seek by the keyframe's pts, or its dts where pts lands late
        self._seek_failures = 0
        self._seeked = False  # the current decode run began with a seek
        self._anchor_is_key = True  # the frame a seek aims at must come out as a keyframe
        self._drain_pts: int | None = None  # drain the decoder after the packet with this pts
        self._drained = False
        self._open()
        if key is not None and index is None:  # index this file with the container just opened
            try:
                index = scan_packets(self.path, self._container)
            except BaseException:
                self.close()
                raise
            _cache_put(key, index)
            self._frames = None  # the scan left the container at its end: the first read seeks
        self._index = index
        self._info = None
        self._sequential = self._url or index.pts is None
        # The size every frame is returned at: the stream's first frame's (see `read`).
        self._size = None if index is None else (index.width, index.height)
        self._first_size_checked = False

    @property
    def info(self) -> VideoInfo:
        if self._info is None:
            if self._index is None:  # a URL: one more pass over the stream, not cached
                self._index = build_index(self.path, timeout=30)
            self._info = self._index.info(self.path)
        return self._info

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None
        self._frames = None

    # -- reading -------------------------------------------------------------------------------

    def read(self, indices, short_side: int | None = None) -> np.ndarray:
        limit = np.iinfo(np.int64).max if self._index is None else self._index.num_frames
        idx = as_indices(indices, limit, self.path)
        targets, inverse = np.unique(idx, return_inverse=True)
        if self._container is None:
            self._open()
        targets_list = targets.tolist()
        may_drain = not self._sequential and not self._seek_failures
        out = None
        if not targets_list:
            width, height = output_size(*(self._size or (self._width, self._height)), short_side)
            if self._rotate and self._index is not None and self._index.rotation in (90, 270):
                width, height = height, width
            return np.empty((0, height, width, 3), np.uint8)
        for k, t in enumerate(targets_list):
            # Where the next target needs a seek anyway (or there is none), drain the decoder
            # once the target's packet is in, rather than feeding it the packets it holds
            # frames back for (B-frame reordering delays output by a few packets).
            self._drain_pts = None
            may_drain = may_drain and not self._sequential
            if may_drain and (k + 1 == len(targets_list) or self._far(t, targets_list[k + 1])):
                self._drain_pts = int(self._index.pts[t])
            frame = self._frame_at(t)
            if (frame.width, frame.height) != self._size:
                self._size_differs(frame, t)
            if out is None:
                width, height = output_size(*self._size, short_side)
                out = np.empty((len(targets), height, width, 3), np.uint8)
            self._convert.convert(frame, out[k])  # scaled to out's size where it differs
            if k == 0:
                self._rotation_is(frame)
        if self._rotate and self._index is not None and self._index.rotation:
            # (T, H, W, 3) turned clockwise in the H-W plane: np.rot90 turns counterclockwise
            out = np.ascontiguousarray(np.rot90(out, -(self._index.rotation // 90), axes=(1, 2)))
        return in_order(out, idx, targets, inverse)

    def _rotation_is(self, frame: av.VideoFrame) -> None:
        """Keep the rotation the decoder reports (it reads every container's display matrix;
        the index reads MP4/MOV's only)."""
        if self._index is None:
            return
        rotation = frame_rotation(frame)
        if rotation != self._index.rotation:
            self._index = replace(self._index, rotation=rotation)
            self._info = None
            if not self._url:
                learn(self.path, self._index)

    def _size_differs(self, frame: av.VideoFrame, t: int) -> None:
        """The rule for frame sizes: every frame is returned at the size of the stream's first
        frame; a frame of another size (the size changed mid-stream) is scaled to it, and the
        change is noted once in `VideoInfo.issues`. Where the header's size is not the first
        frame's (it is where this is checked), the first frame's is the size."""
        size = (frame.width, frame.height)
        if self._size is None:  # a URL: no header size to check against
            self._size = size
            return
        if not self._first_size_checked and not self._url:
            self._first_size_checked = True
            first = first_frame_size(self.path)
            if first is not None and first != self._size:
                self._size = first
                self._index = replace(self._index, width=first[0], height=first[1])
                self._info = None
                learn(self.path, self._index)
            if size == self._size:
                return
        if self._index is None or any("mid-stream" in i for i in self._index.issues):
            return
        note = size_change_note(self._size, size, f"first seen at frame {t}")
        self._index = replace(self._index, issues=(*self._index.issues, note))
        self._info = None
        if not self._url:
            learn(self.path, self._index)

    def _frame_at(self, t: int) -> av.VideoFrame:
        if self._sequential:
            return self._frame_at_sequential(t)
        index = self._index
        slot = index.keyframe_slot(t)
        pos = self._pos
        seeks: list[tuple[int, str]] = []  # the ways left to position the decoder
        anchor = None  # a keyframe that must come out before any later frame is trusted
        if self._frames is None or self._drained or pos is None or self._far(pos, t):
            seeks = self._seek_plan(slot)
            anchor = self._position(seeks)
        restarted = False
        for _ in range(2 * index.num_frames + 64):  # frames to decode before declaring no progress
            frame, cause = self._try_next()
            if frame is not None:
                i = self._locate(frame)
                if i is None:  # timestamps the index does not know: count from the start
                    self._frames = None
                    return self._frame_at_sequential(t)
                if anchor is not None:
                    if i < anchor:  # landed before the keyframe: decode on to it
                        self._pos = i
                        continue
                    is_key = frame.key_frame or frame.pict_type == _I_FRAME
                    if i > anchor or (self._anchor_is_key and not is_key):
                        # Landed past the keyframe (what follows may lack its references), or
                        # the demuxer resynchronised mid-packet and timestamps are shifted
                        # (MPEG-PS): try the next way, at worst the start of the file.
                        anchor = self._position(seeks)
                        continue
                    anchor = None
                elif self._pos is not None and (
                    i <= self._pos or (i > self._pos + 1 and not self._drained)
                ):
                    # Frames come out in presentation order: one out of timestamp order means
                    # the timestamps are not presentation times (pts overwritten by dts, parts
                    # joined): count from the start, and remember it for this file. (While the
                    # decoder is drained, frames whose packets were not fed are missing.)
                    return self._distrust(
                        t,
                        f"decoded frames are out of timestamp order (frame {i} came after "
                        f"frame {self._pos}); " + COUNTING,
                    )
                if i <= t:
                    self._pos = i
                    if i == t:
                        return frame
                    continue
                cause = f"the decoder skipped it and went on to frame {i}"
            # A failure after a seek may be the seek's fault: once more from the start.
            if self._seeked and not restarted:
                self._seek_failures += 1
                restarted = True
                seeks, anchor = [], None
                self._restart()
                continue
            self._frames = None
            raise self._failure(t, cause)
        self._frames = None
        raise DecodeError(
            f"{self.path}: decoding made no progress towards frame {t} "
            f"(last frame reached: {self._pos})",
            self.path,
        )

    def _distrust(self, t: int, note: str) -> av.VideoFrame:
        """Stop trusting the timestamps of this file (noted in its issues, and in the index
        cache), and reach frame `t` by counting from the start."""
        self._index = distrusted(self._index, note)
        self._info = None
        if not self._url:
            learn(self.path, self._index)
        self._frames = None
        return self._frame_at_sequential(t)

    def _far(self, pos: int, t: int) -> bool:
        """Whether frame `t` is better reached by a seek than by decoding on from frame `pos`:
        it lies behind, or in a later GOP whose keyframe is more than a few frames ahead
        (decoding a few frames costs less than a seek, which also throws away the frames the
        decoder holds)."""
        index = self._index
        return t <= pos or int(index.keyframes[index.keyframe_slot(t)]) > pos + _FORWARD_FRAMES

    def _seek_plan(self, slot: int) -> list[tuple[int, str]]:
        """Seeks to try, best first: the keyframe by pts and by dts (MPEG-TS seeks by dts),
        then the keyframe before it. After those, decoding starts from the beginning."""
        if self._seek_failures >= 2:  # seeking does not work on this file
            return []
        modes = (self._seek_mode, "dts" if self._seek_mode == "pts" else "pts")
        return [(s, mode) for s in (slot, slot - 1) if s >= 0 for mode in modes]

    def _position(self, seeks: list[tuple[int, str]]) -> int | None:
        """Seek by the first way in `seeks` (removing it); return the keyframe it aims at.

        With no way left (or none that the container accepts), restart from the beginning
        and return None: decoding from the start needs no check.
        """
        index = self._index
        while seeks:
            slot, mode = seeks.pop(0)
            keyframe = int(index.keyframes[slot])
            key_pts = int(index.key_pts[slot])
            target = int(index.key_dts[slot] if mode == "dts" else key_pts)
            if mode == "dts" and target == key_pts:
                continue  # same as the pts seek
            try:
                self._container.seek(target, stream=self._stream)
            except (av.error.FFmpegError, OSError):
                continue
            self._seek_mode = mode
            self._frames = self._decode_frames()
            self._pos = None
            self._seeked = True
            self._drained = False
            # Seeking to a discarded keyframe (an edit list), the first frame presented is the
            # anchor but not itself a keyframe.
            self._anchor_is_key = key_pts == int(index.pts[keyframe])
            return keyframe
        self._restart()
        return None

    def _frame_at_sequential(self, t: int) -> av.VideoFrame:
        """Count frames from the start of the file (no timestamps needed)."""
        self._sequential = True
        pos = self._pos
        if self._frames is None or self._seeked or self._drained or pos is None or t <= pos:
            self._restart()
        while True:
            frame, cause = self._try_next()
            if frame is None:
                self._frames = None
                raise self._failure(t, cause)
            self._pos += 1
            if self._pos == t:
                return frame

    def _locate(self, frame: av.VideoFrame) -> int | None:
        if frame.pts is not None:
            return self._index.locate(frame.pts)
        if self._pos is not None:
            return self._pos + 1  # a frame without timestamp right after a located one
        return None

    def _try_next(self) -> tuple[av.VideoFrame | None, str]:
        try:
            return next(self._frames), ""
        except StopIteration:
            if self._drained:
                return None, "the decoder gave no frame for it"
            return None, "the stream ended before it"
        except (av.error.FFmpegError, EOFError, OSError) as e:
            return None, f"decoding failed ({reason_of(e)})"

    def _failure(self, t: int, cause: str) -> DecodeError:
        message = f"{self.path}: cannot decode frame {t}: {cause}"
        if not self._url:
            good = count_decodable(self.path)
            total = self._index.num_frames
            message += f"; {good} of {total} frames are decodable"
            message += (
                f" ({'; '.join(self._index.issues)})"
                if self._index.issues
                else " (a damaged file?)"
            )
        return DecodeError(message, self.path)

    # -- container state -----------------------------------------------------------------------

    def _open(self) -> None:
        self._container = open_container(self.path, timeout=30 if self._url else None)
        self._stream = self._container.streams.video[0]
        ctx = self._stream.codec_context
        ctx.thread_count = self._threads
        if self._threads != 1:
            ctx.thread_type = "AUTO"
        self._width, self._height = ctx.width, ctx.height
        self._frames = self._decode_frames()
        self._pos = -1
        self._seeked = False
        self._drained = False

    def _restart(self) -> None:
        self.close()
        self._open()

    def _decode_frames(self):
        decode = self._stream.codec_context.decode
        for packet in self._container.demux(self._stream):
            yield from decode(packet)
            if packet.pts is not None and packet.pts == self._drain_pts:
                self._drained = True  # the decoder must be flushed (a seek) before reuse
                yield from decode(None)
                return


def frame_rotation(frame: av.VideoFrame) -> int:
    """Clockwise degrees (0, 90, 180, 270) to turn ``frame`` upright, from its display matrix
    (``frame.rotation`` is counterclockwise)."""
    return round(-frame.rotation / 90) % 4 * 90


def size_change_note(first: tuple[int, int], size: tuple[int, int], where: str) -> str:
    """The ``VideoInfo.issues`` note of a frame size that changes mid-stream, and the rule;
    ``where``: ``"from frame 30"`` (a full decode) or ``"first seen at frame 30"`` (a reader)."""
    w, h = first
    return (
        f"the frame size changes mid-stream ({w}x{h} at the start, {size[0]}x{size[1]} "
        f"{where}); every frame is returned at {w}x{h}, scaled"
    )


def first_frame_size(src: str) -> tuple[int, int] | None:
    """(width, height) of the first frame `src` decodes to, or None where none decodes."""
    try:
        with av_open(src) as container:
            for frame in container.decode(container.streams.video[0]):
                return frame.width, frame.height
    except (av.error.FFmpegError, OSError, EOFError):
        pass
    return None


def count_decodable(src: str) -> int:
    """Frames decoded from the start of `src` before the first error (no conversion)."""
    count = 0
    try:
        with av_open(src) as container:
            for _ in container.decode(container.streams.video[0]):
                count += 1
    except (av.error.FFmpegError, OSError, EOFError, IndexError):
        pass
    return count
