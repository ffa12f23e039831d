"""A small, general, deterministic PyAV video encoder (:func:`write_video`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

# Codecs whose FFmpeg wrapper takes a constant-quality "crf" option.
_CRF_CODECS = {"libx264", "libx265", "libvpx-vp9", "libvpx", "libaom-av1", "libsvtav1"}


def write_video(
    path: str | os.PathLike,
    frames: np.ndarray | Sequence[np.ndarray],
    fps: float | Fraction = 12,
    *,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    gop: int = 12,
    crf: int | None = 20,
    bframes: int | None = None,
    preset: str | None = "veryfast",
    options: dict[str, str] | None = None,
) -> Path:
    """Encodes RGB frames into a video file; the container follows the extension.

    With ``libx264`` the output is deterministic (one thread, fixed GOP, no scene-cut
    keyframes, no macroblock-tree rate control, explicit timestamps): the same frames give the
    same bytes with the same FFmpeg/x264 build.

    Args:
        path: Output file (``.mp4``, ``.mkv``, ``.avi``, ``.webm``, ...); parent must exist.
        frames: ``(T, H, W, 3)`` uint8 RGB array, or a sequence of ``(H, W, 3)`` arrays.
        fps: Frame rate (a ``Fraction`` for rates such as 30000/1001).
        codec: FFmpeg encoder name (``libx264``, ``libx265``, ``mpeg4``, ``libvpx-vp9``, ...).
        pix_fmt: Pixel format of the encoded stream.
        gop: Keyframe interval in frames (fixed for x264/x265).
        crf: Constant quality for codecs that support it (ignored by the others); None leaves
            the encoder default.
        bframes: Maximum consecutive B-frames; None leaves the encoder default (x264: 3).
        preset: x264/x265 speed preset; None leaves the encoder default.
        options: Extra encoder options, passed to FFmpeg as they are (they win over the above).

    Returns:
        The path written.

    Raises:
        ValueError: ``frames`` has the wrong type, shape or dtype, or the size does not suit
            ``pix_fmt``.
    """
    import av

    frames = _check_frames(frames)
    _, height, width, _ = frames.shape
    if pix_fmt in ("yuv420p", "yuvj420p", "nv12") and (height % 2 or width % 2):
        raise ValueError(
            f"write_video({str(path)!r}): {pix_fmt} needs an even width and height, got "
            f"{width}x{height}; crop or pad the frames, or use pix_fmt='yuv444p'"
        )
    rate = Fraction(fps).limit_denominator(1_000_000)
    if rate <= 0:
        raise ValueError(f"write_video({str(path)!r}): fps must be > 0, got {fps}")
    opts: dict[str, str] = {}
    if crf is not None and codec in _CRF_CODECS:
        opts["crf"] = str(crf)
        if codec == "libvpx-vp9":
            opts["b"] = "0"  # constant-quality mode of VP9 needs a zero bitrate target
    if preset is not None and codec in ("libx264", "libx265"):
        opts["preset"] = preset
    if codec == "libx264":
        # Fixed GOP and a single thread. mbtree=0: with macroblock-tree rate control, x264
        # (with B-frames, measured here) gives different bytes in ~1 run of 20 for the same
        # input; without it the output depends on the pixels alone.
        opts["x264-params"] = f"keyint={gop}:min-keyint={gop}:scenecut=0:threads=1:mbtree=0"
    elif codec == "libx265":
        opts["x265-params"] = f"keyint={gop}:min-keyint={gop}:scenecut=0:pools=none:frame-threads=1"
    opts.update(options or {})

    path = Path(path)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        ctx = stream.codec_context
        ctx.gop_size = gop
        ctx.thread_count = 1
        if bframes is not None:
            ctx.max_b_frames = bframes
        stream.options = opts
        for index, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index  # without explicit pts x264's output varies from run to run
            frame.time_base = 1 / rate
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))  # flush delayed (B-)frames
    return path


def _check_frames(frames: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    if not isinstance(frames, np.ndarray):
        try:
            frames = np.stack([np.asarray(f) for f in frames])
        except ValueError as exc:
            raise ValueError(f"frames must all have the same (H, W, 3) shape: {exc}") from exc
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] == 0:
        raise ValueError(f"frames must be (T, H, W, 3) RGB with T >= 1, got shape {frames.shape}")
    if frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (0..255), got dtype {frames.dtype}")
    return np.ascontiguousarray(frames)
