"""Data tools behind ``vidlab data {extract-frames, resize}``: writing videos out again.

Plain functions, each returning a dict that says what was done:

- `extract_frames`: videos -> frame folders (``img_00001.jpg``, ...) and a rawframe list
  (``frame_dir total_frames label``).
- `resize_videos`: re-encode videos (H.264) to a short side, with a chosen keyframe interval.

Both take a ``path label`` list or a class-per-folder tree, as :mod:`vidlab.data.tools` reads
them, and run in parallel processes.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import numpy as np

from vidlab.data.tools import VIDEO_EXTS, _class_videos, _join, _read_list, _run, quote_path

__all__ = ["extract_frames", "resize_videos"]


# -- extract-frames --------------------------------------------------------------------------


def _videos_of(list_or_dir, data_prefix, exts) -> tuple[list[tuple[str, str, str]], str]:
    """(full path, path relative to its root, label) for each video; and a list name."""
    src = Path(list_or_dir)
    if src.is_dir():
        classes = _class_videos(src, exts)
        if classes:
            items = [
                (str(src / v), v, str(label))
                for label, videos in enumerate(classes.values())
                for v in videos
            ]
        else:  # a flat folder of videos: no labels
            items = [
                (str(p), p.name, "")
                for p in sorted(src.iterdir())
                if p.is_file() and p.suffix.lower() in exts
            ]
        return items, "rawframes"
    if src.suffix.lower() in exts:
        return [(str(src), src.name, "")], "rawframes"
    items = []
    for lineno, path, fields, _ in _read_list(src):
        if fields is None:
            raise ValueError(f"{src}:{lineno}: cannot read the line: {path}")
        items.append((_join(data_prefix, path), path, " ".join(fields)))
    return items, f"{src.stem}_rawframes"


def _extract_one(
    path: str, out_dir: str, short_side, tmpl: str, start_index: int, quality: int
) -> tuple[int, str | None]:
    """(frames written, error or None) for one video."""
    from vidlab.data.io import DecodeError
    from vidlab.data.io.frames import ImageEncoder

    ext = os.path.splitext(tmpl.format(0))[1]
    tmp = out_dir + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        encoder = ImageEncoder(ext, quality)
        count = 0
        for rgb in _iter_rgb(path, short_side):
            with open(os.path.join(tmp, tmpl.format(start_index + count)), "wb") as f:
                f.write(encoder.encode(rgb))
            count += 1
    except (DecodeError, ValueError, OSError) as e:
        shutil.rmtree(tmp, ignore_errors=True)
        return 0, str(e)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(tmp, out_dir)
    return count, None


def _iter_rgb(path: str, short_side: int | None):
    """Every frame of `path` as RGB (short side scaled), decoded in order."""
    import av

    from vidlab.data.io import DecodeError
    from vidlab.data.io.base import output_size
    from vidlab.data.io.convert import RGBConverter
    from vidlab.data.io.pyav import open_container, reason_of

    convert = RGBConverter("area")
    with open_container(path) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1
        width, height = output_size(
            stream.codec_context.width, stream.codec_context.height, short_side
        )
        count = 0
        try:
            for frame in container.decode(stream):
                out = np.empty((height, width, 3), np.uint8)
                convert.convert(frame, out)
                count += 1
                yield out
        except (av.error.FFmpegError, OSError, EOFError) as e:
            raise DecodeError(
                f"{path}: decoding failed after {count} frames ({reason_of(e)})", path
            ) from e


def extract_frames(
    list_or_dir: str | os.PathLike,
    out_root: str | os.PathLike,
    short_side: int | None = None,
    tmpl: str = "img_{:05d}.jpg",
    start_index: int = 1,
    quality: int = 2,
    data_prefix: str | os.PathLike = "",
    num_workers: int = 1,
    exts: Iterable[str] = VIDEO_EXTS,
) -> dict:
    """Decode videos into frame folders and write a rawframe list.

    Args:
        list_or_dir: A ``path label`` list, a class-per-folder tree, a folder of videos, or
            one video.
        out_root: Frame folders go to ``out_root/<video path without extension>/``.
        short_side: Scale frames so their short side has this length (area filter).
        tmpl: File name template; ``.jpg`` or ``.png``.
        start_index: Number of the first file (MMAction2's rawframes start at 1).
        quality: JPEG quality as FFmpeg's ``-q:v``, 2 (best) to 31.
        data_prefix: Directory the list's paths are relative to.
        num_workers: Processes; 0 or 1 works in this process.

    Returns:
        ``dict(list, num_videos, num_frames, failed=[dict(path, reason)])``; the list file
        (``<list stem>_rawframes.txt`` or ``rawframes.txt`` in `out_root`) has lines
        ``frame_dir total_frames label`` with `frame_dir` relative to `out_root`.
    """
    out_root = Path(out_root)
    out_root.mkdir(parents=True, exist_ok=True)
    exts = tuple(e.lower() for e in exts)
    items, list_name = _videos_of(list_or_dir, data_prefix, exts)
    jobs = []
    for full, rel, _ in items:
        frame_dir = os.path.splitext(rel)[0]
        jobs.append((full, str(out_root / frame_dir), short_side, tmpl, start_index, quality))
    results = _run(_extract_one, jobs, num_workers, desc="extract")
    lines, failed, total = [], [], 0
    for (full, rel, label), (count, error) in zip(items, results):
        if error is not None:
            failed.append({"path": full, "reason": error})
            continue
        total += count
        frame_dir = quote_path(os.path.splitext(rel)[0])
        lines.append(" ".join(x for x in (frame_dir, str(count), label) if x))
    list_path = out_root / f"{list_name}.txt"
    list_path.write_text("".join(f"{line}\n" for line in lines))
    return {
        "list": str(list_path),
        "num_videos": len(lines),
        "num_frames": total,
        "failed": failed,
    }


# -- resize ----------------------------------------------------------------------------------


def _even(x: int) -> int:
    return max(2, int(round(x / 2)) * 2)


def _resize_one(src: str, dst: str, short_side: int, gop: int, crf: int, preset: str):
    """(frames written, error or None): re-encode `src` to H.264 in `dst`."""
    import av
    from av.video.reformatter import VideoReformatter

    from vidlab.data.io import DecodeError
    from vidlab.data.io.base import output_size
    from vidlab.data.io.convert import interpolation_flag
    from vidlab.data.io.pyav import open_container

    tmp = f"{dst}.partial{os.path.splitext(dst)[1]}"
    os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
    count = 0
    try:
        with open_container(src) as inp, av.open(tmp, "w") as out:
            in_stream = inp.streams.video[0]
            in_stream.codec_context.thread_count = 1
            width, height = output_size(
                in_stream.codec_context.width, in_stream.codec_context.height, short_side
            )
            width, height = _even(width), _even(height)
            rate = in_stream.guessed_rate or in_stream.average_rate or Fraction(30)
            time_base = in_stream.time_base or 1 / Fraction(rate)
            stream = out.add_stream(
                "libx264",
                rate=rate,
                options={
                    "crf": str(crf),
                    "preset": preset,
                    "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0",
                },
            )
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.codec_context.time_base = time_base
            area = interpolation_flag("area")
            reformatter = VideoReformatter()
            last_pts = None
            for frame in inp.decode(in_stream):
                pts = frame.pts
                if pts is None or (last_pts is not None and pts <= last_pts):
                    pts = 0 if last_pts is None else last_pts + 1
                last_pts = pts
                scaled = reformatter.reformat(
                    frame, width, height, "yuv420p", interpolation=area, threads=1
                )
                scaled.pts, scaled.time_base = pts, time_base
                out.mux(stream.encode(scaled))
                count += 1
            out.mux(stream.encode(None))
    except (DecodeError, av.error.FFmpegError, OSError, EOFError, ValueError) as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        return 0, f"{src}: {e}" if not isinstance(e, DecodeError) else str(e)
    os.replace(tmp, dst)
    return count, None


def resize_videos(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    short_side: int = 256,
    gop: int = 16,
    crf: int = 23,
    preset: str = "veryfast",
    num_workers: int = 1,
    exts: Iterable[str] = VIDEO_EXTS,
) -> dict:
    """Re-encode videos to H.264 MP4 with a given short side and keyframe interval.

    Frame timestamps are kept (a variable-rate file stays variable-rate); audio is dropped.
    A short keyframe interval (`gop`) makes the sparse sampling of training cheap to decode.

    Args:
        src: A video file or a directory (searched recursively for `exts`).
        dst: The output file, or the directory mirroring `src`'s tree (``.mp4`` names).
        short_side: Length of the short side after scaling (width/height rounded to even).
        gop: Keyframe interval in frames.
        crf: x264 constant quality (lower is better; 23 is x264's default).
        preset: x264 speed preset.
        num_workers: Processes; 0 or 1 works in this process.

    Returns:
        ``dict(num_videos, num_frames, outputs, failed=[dict(path, reason)])``.
    """
    src, dst = Path(src), Path(dst)
    exts = tuple(e.lower() for e in exts)
    if src.is_dir():
        sources = sorted(p for p in src.rglob("*") if p.is_file() and p.suffix.lower() in exts)
        pairs = [(p, (dst / p.relative_to(src)).with_suffix(".mp4")) for p in sources]
    elif src.exists():
        pairs = [(src, dst if dst.suffix else (dst / src.name).with_suffix(".mp4"))]
    else:
        raise FileNotFoundError(f"{src}: no such file or directory")
    jobs = [(str(s), str(d), short_side, gop, crf, preset) for s, d in pairs]
    results = _run(_resize_one, jobs, num_workers, desc="resize")
    outputs, failed, total = [], [], 0
    for (s, d), (count, error) in zip(pairs, results):
        if error is None:
            outputs.append(str(d))
            total += count
        else:
            failed.append({"path": str(s), "reason": error})
    return {"num_videos": len(outputs), "num_frames": total, "outputs": outputs, "failed": failed}
