"""Files whose containers lie, written with PyAV (the FFmpeg libraries it bundles): what
stream-copy cuts, broken remuxers, ``cat`` and phones make. Each keeps the frame pattern of
`videogen`, so a test can tell which frame it got."""

from __future__ import annotations

from fractions import Fraction

import av
from videogen import HEIGHT, WIDTH, encode, pattern, x264


def _remux(src, dst, fix=None, fmt=None):
    """Copy `src`'s video packets into `dst`, passing each through `fix(packet)` first."""
    with av.open(str(src)) as ic, av.open(str(dst), "w", format=fmt) as oc:
        ist = ic.streams.video[0]
        ost = oc.add_stream_from_template(ist)
        for packet in ic.demux(ist):
            if packet.size:
                if fix is not None:
                    fix(packet)
                packet.stream = ost
                oc.mux(packet)
    return str(dst)


def stream_copy_cut(src, dst, first: int):
    """What ``ffmpeg -ss T -i src -c copy dst`` writes: the packets from the keyframe before
    frame `first`, with the cut at time 0, so the ones before it get negative timestamps (an
    MP4 edit list marks them discarded)."""
    with av.open(str(src)) as ic:
        packets = [p for p in ic.demux(ic.streams.video[0]) if p.size]
    cut = sorted(p.pts for p in packets)[first]
    key = max(p.pts for p in packets if p.is_keyframe and p.pts <= cut)
    started = False

    def fix(packet):
        packet.pts -= cut
        packet.dts -= cut

    with av.open(str(src)) as ic, av.open(str(dst), "w") as oc:
        ist = ic.streams.video[0]
        ost = oc.add_stream_from_template(ist)
        for packet in ic.demux(ist):
            if not packet.size:
                continue
            started = started or (packet.is_keyframe and packet.pts == key)
            if started:
                fix(packet)
                packet.stream = ost
                oc.mux(packet)
    return str(dst)


def negative_start(path, n=60, shift=3):
    """An MP4 whose first `shift` frames have negative timestamps (stored as an edit list)."""
    step = 33
    pts = [step * (i - shift) for i in range(n)]
    return encode(path, n=n, pts=pts, time_base=Fraction(1, 1000), options=x264(12))


def pts_overwritten_by_dts(src_ts, dst):
    """An MPEG-TS of H.264 with B-frames whose pts a broken remuxer set to the dts."""

    def fix(packet):
        packet.pts = packet.dts

    return _remux(src_ts, dst, fix, fmt="mpegts")


def capture(path, ids, *, offset=100):
    """An MPEG-TS of the pattern frames `ids` at 30 fps (time base 1/60), its timestamps
    starting `offset` sixtieths of a second late (late enough that no B-frame dts is
    negative: the muxer would shift them to 0)."""
    with av.open(str(path), "w", format="mpegts") as c:
        s = c.add_stream("libx264", rate=30, options=x264(12))
        s.width, s.height, s.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        s.codec_context.time_base = Fraction(1, 60)
        for k, i in enumerate(ids):
            frame = av.VideoFrame.from_ndarray(pattern(i), format="rgb24")
            frame.pts, frame.time_base = offset + 2 * k, Fraction(1, 60)
            c.mux(s.encode(frame))
        c.mux(s.encode(None))
    return str(path)


def joined(first_ts, second_ts, dst):
    """Two captures joined with ``cat``."""
    with open(dst, "wb") as out:
        for part in (first_ts, second_ts):
            with open(part, "rb") as f:
                out.write(f.read())
    return str(dst)


def size_change(path, n=60, change_at=30, size=(32, 24)):
    """An MPEG-TS whose frame size changes at frame `change_at` (the encoder restarts)."""
    with av.open(str(path), "w", format="mpegts") as c:
        s = c.add_stream("libx264", rate=30, options=x264(12, 0))
        s.width, s.height, s.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for i in range(change_at):
            c.mux(s.encode(av.VideoFrame.from_ndarray(pattern(i), format="rgb24")))
        c.mux(s.encode(None))
        enc = av.CodecContext.create("libx264", "w")
        enc.width, enc.height, enc.pix_fmt = size[0], size[1], "yuv420p"
        enc.time_base = Fraction(1, 30)
        enc.options = x264(12, 0)
        for i in range(change_at, n):
            frame = av.VideoFrame.from_ndarray(pattern(i, *size), format="rgb24")
            frame.pts = i
            for packet in enc.encode(frame):
                packet.stream = s
                packet.time_base = Fraction(1, 30)
                c.mux(packet)
        for packet in enc.encode(None):
            packet.stream = s
            packet.time_base = Fraction(1, 30)
            c.mux(packet)
    return str(path)


def rotated(path, degrees: int, n=24, sar=None):
    """An MP4 with a display matrix rotating by `degrees` counterclockwise (as PyAV's
    ``set_display_rotation``) and, optionally, a sample aspect ratio."""
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=30, options=x264(12))
        s.width, s.height, s.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        s.set_display_rotation(degrees)
        if sar is not None:
            s.sample_aspect_ratio = sar
            s.codec_context.sample_aspect_ratio = sar
        for i in range(n):
            c.mux(s.encode(av.VideoFrame.from_ndarray(pattern(i), format="rgb24")))
        c.mux(s.encode(None))
    return str(path)
