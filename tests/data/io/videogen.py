"""Test videos for the decoder tests: a frame pattern that carries its own index, an encoder,
and the files with the traps of docs/architecture.md's Data section (64x48, 60 frames each).

Every frame carries its own index as 8 big black/white blocks (`frame_id` reads it back), so a
test can tell which frame it got even through lossy compression.
"""

from __future__ import annotations

import random
from fractions import Fraction

import av
import numpy as np

from vidlab.data.io.convert import RGBConverter
from vidlab.data.io.frames import ImageEncoder

NUM_FRAMES = 60
WIDTH, HEIGHT = 64, 48


def pattern(i: int, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    img = np.empty((height, width, 3), np.uint8)
    img[:] = (i * 37) % 200 + 20
    bw, bh = width // 4, height // 2
    for b in range(8):
        r, c = divmod(b, 4)
        img[r * bh : (r + 1) * bh, c * bw : (c + 1) * bw] = 235 if (i >> b) & 1 else 16
    return img


def frame_id(img: np.ndarray) -> int:
    height, width = img.shape[:2]
    bw, bh = width // 4, height // 2
    value = 0
    for b in range(8):
        r, c = divmod(b, 4)
        if img[r * bh : (r + 1) * bh, c * bw : (c + 1) * bw].mean() > 128:
            value |= 1 << b
    return value


def encode(
    path,
    codec="libx264",
    *,
    n=NUM_FRAMES,
    rate=Fraction(30),
    gop=12,
    bframes=2,
    fmt=None,
    pts=None,
    time_base=None,
    options=None,
    container_options=None,
):
    """Write `n` pattern frames; `pts` (with `time_base`) gives each frame's timestamp."""
    with av.open(str(path), "w", format=fmt, options=container_options or {}) as c:
        s = c.add_stream(codec, rate=rate, options=options or {})
        s.width, s.height, s.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        s.codec_context.gop_size = gop
        if bframes is not None:
            s.codec_context.max_b_frames = bframes
        if time_base is not None:
            s.codec_context.time_base = time_base
        for i in range(n):
            f = av.VideoFrame.from_ndarray(pattern(i), format="rgb24")
            if pts is not None:
                f.pts, f.time_base = pts[i], time_base
            c.mux(s.encode(f))
        c.mux(s.encode(None))
    return str(path)


def x264(gop, bframes=2, extra=""):
    return {"x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes={bframes}{extra}"}


def has_encoder(name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
        return True
    except Exception:
        return False


def full_decode(path) -> np.ndarray:
    """Every frame, decoded in order with PyAV and converted as the reader converts."""
    conv = RGBConverter()
    out = []
    with av.open(str(path)) as c:
        for f in c.decode(c.streams.video[0]):
            a = np.empty((f.height, f.width, 3), np.uint8)
            conv.convert(f, a)
            out.append(a)
    return np.stack(out)


def _vfr_pts():
    rng = random.Random(0)
    t, pts = 0, []
    for _ in range(NUM_FRAMES):
        pts.append(t)
        t += rng.choice([20, 33, 50, 100])
    return pts


def _offset_kwargs():
    pts = [1500 + 33 * i for i in range(NUM_FRAMES)]
    return dict(pts=pts, time_base=Fraction(1, 1000), options=x264(12))


VIDEO_SPECS = {
    # name: (file name, encode kwargs) -- the traps of docs/architecture.md's Data section
    "h264_gop250": ("h264_gop250.mp4", dict(gop=250, options=x264(250))),
    "h264_gop12": ("h264_gop12.mp4", dict(options=x264(12))),
    "vp9_webm": ("vp9.webm", dict(codec="libvpx-vp9", bframes=None)),
    "mpeg4_bframes_avi": ("mpeg4_bframes.avi", dict(codec="mpeg4", bframes=2)),
    "h264_mkv": ("h264.mkv", dict(options=x264(12))),
    "hevc_mp4": (
        "hevc.mp4",
        dict(codec="libx265", bframes=None, options={"x265-params": "keyint=12:log-level=error"}),
    ),
    "vfr_mp4": ("vfr.mp4", dict(pts=_vfr_pts(), time_base=Fraction(1, 1000), options=x264(12))),
    "no_duration_mkv": ("live.mkv", dict(options=x264(12), container_options={"live": "1"})),
    "ntsc_mp4": ("ntsc.mp4", dict(rate=Fraction(30000, 1001), options=x264(12))),
    "start_pts_ts": ("start.ts", dict(options=x264(12))),
    "open_gop_mp4": ("open_gop.mp4", dict(options=x264(12, 3, ":open-gop=1"))),
    "mpeg2_ps": ("mpeg2.mpg", dict(codec="mpeg2video", bframes=2)),
    "raw_h264": ("raw.h264", dict(fmt="h264", options=x264(12))),
    # first timestamp 1.5 s: MP4 (edit list) and Matroska
    "offset_mp4": ("offset.mp4", _offset_kwargs()),
    "offset_mkv": ("offset.mkv", _offset_kwargs()),
}


def write_images(folder, numbers, *, tmpl="img_{:05d}.jpg", skip=(), quality=2):
    folder.mkdir(parents=True, exist_ok=True)
    encoder = ImageEncoder("." + tmpl.rsplit(".", 1)[1], quality=quality)
    for k in numbers:
        if k not in skip:
            (folder / tmpl.format(k)).write_bytes(encoder.encode(pattern(k)))
    return folder
