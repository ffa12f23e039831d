"""Display rotation of an MP4/MOV video track, read from its ``tkhd`` box.

PyAV exposes a stream's display matrix only on decoded frames (``VideoFrame.rotation``); the
frame index must not decode. The matrix is in the track header (``moov/trak/tkhd``), a few
small reads away: box headers are walked with seeks, and only ``tkhd`` and ``hdlr`` are read.
"""

from __future__ import annotations

import math
import struct

__all__ = ["display_rotation"]

_CONTAINERS = {b"moov", b"trak", b"mdia"}
_MAX_BOXES = 10_000  # a damaged file must not make the walk loop for long


def display_rotation(path: str) -> int | None:
    """Degrees (0, 90, 180 or 270) to rotate the first video track's frames clockwise for
    display (as FFmpeg's command line and phone players do), or None where it cannot be read.

    Flips in the matrix are ignored; an angle that is not a multiple of 90 is rounded to one.
    """
    try:
        with open(path, "rb") as f:
            for matrix, handler in _tracks(f):
                if handler == b"vide":
                    if matrix is None:
                        return None
                    a, b = matrix
                    return round(math.degrees(math.atan2(b, a)) / 90) % 4 * 90
    except (OSError, struct.error, ValueError):
        return None
    return None


def _tracks(f):
    """(tkhd matrix (a, b) or None, handler type) of each ``trak`` in ``moov``."""
    moov = _find(f, 0, None, b"moov")
    if moov is None:
        return
    for trak_start, trak_end in _children(f, *moov, b"trak"):
        matrix = handler = None
        for start, end in _children(f, trak_start, trak_end, b"tkhd"):
            f.seek(start)
            data = f.read(min(end - start, 100))
            version = data[0]
            offset = 4 + (32 if version == 1 else 20) + 8 + 8  # to the matrix
            a, b = struct.unpack(">ii", data[offset : offset + 8])
            matrix = (a, b)
        mdia = next(iter(_children(f, trak_start, trak_end, b"mdia")), None)
        if mdia is not None:
            for start, _ in _children(f, *mdia, b"hdlr"):
                f.seek(start + 8)
                handler = f.read(4)
        yield matrix, handler


def _boxes(f, start: int, end: int | None):
    """(type, payload start, box end) of the boxes between `start` and `end`."""
    pos = start
    for _ in range(_MAX_BOXES):
        if end is not None and pos + 8 > end:
            return
        f.seek(pos)
        header = f.read(8)
        if len(header) < 8:
            return
        size, kind = struct.unpack(">I4s", header)
        payload = pos + 8
        if size == 1:
            (size,) = struct.unpack(">Q", f.read(8))
            payload += 8
        elif size == 0:  # to the end of the enclosing box or file
            f.seek(0, 2)
            size = (end if end is not None else f.tell()) - pos
        if size < payload - pos:
            return
        yield kind, payload, pos + size
        pos += size


def _find(f, start, end, kind):
    for k, payload, box_end in _boxes(f, start, end):
        if k == kind:
            return payload, box_end
    return None


def _children(f, start, end, kind):
    return [(payload, box_end) for k, payload, box_end in _boxes(f, start, end) if k == kind]
