"""Long videos and live streams in constant memory: a sliding window over decoded frames.

Frames are decoded one at a time with PyAV (a file, a stream such as ``rtsp://``, a pipe, or a
webcam, ``--source 0``), scaled to a short side and kept in a ring buffer of one window. Every
`stride` frames, the window's frames go through the model's test pipeline as an array (the
pipeline samples its clips from the window, as from a short video) and give top-k scores. So
memory depends on the window, not on the length of the video.

Outputs: the timeline (JSON, written window by window, so a crash or Ctrl-C of an endless stream
leaves every finished window on disk; the file is valid JSON once the run ends) and an
annotated MP4 written with PyAV, each frame labelled with the label and score of the last
window that ended at or before it (causal, as a live display).
"""

from __future__ import annotations

import json
import os
import re
import sys
from fractions import Fraction

import numpy as np
import torch

from vidlab.inference import _test_pipeline, device_of, label_names_for, prepare_clips, scores_of

__all__ = ["Span", "check_source", "open_source", "parse_span", "sliding_window"]

_STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "udp", "tcp", "srt", "http", "https")


class Span:
    """A window or stride length: frames (``64``, ``64f``) or seconds (``2s``, ``2.5s``)."""

    def __init__(self, value: float, unit: str):
        self.value, self.unit = value, unit

    def frames(self, fps: float) -> int:
        n = round(self.value * fps) if self.unit == "s" else int(self.value)
        return max(1, n)

    def __repr__(self) -> str:
        return f"{self.value:g}{self.unit}"


def parse_span(text: str | int | float) -> Span:
    """``"2s"`` -> 2 seconds; ``"64"`` or ``"64f"`` -> 64 frames.

    Raises:
        ValueError: Anything else, or a length that is not positive.
    """
    if isinstance(text, (int, float)):
        text = str(text)
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(s|f)?\s*", str(text))
    if not m or float(m.group(1)) <= 0 or (m.group(2) != "s" and "." in m.group(1)):
        raise ValueError(
            f"{text!r} is not a window length: give frames (64, 64f) or seconds (2s, 2.5s)"
        )
    return Span(float(m.group(1)), m.group(2) or "f")


def check_source(source: str | int) -> None:
    """Raise `DecodeError` for a URL scheme that is not a stream (before loading a model)."""
    from vidlab.data.io import DecodeError

    text = str(source)
    scheme = text.split("://", 1)[0].lower() if "://" in text else None
    if scheme is not None and scheme not in _STREAM_SCHEMES:
        raise DecodeError(
            f"{text}: the {scheme!r} scheme is not a stream vidlab opens; use one of "
            f"{', '.join(s + '://' for s in _STREAM_SCHEMES)}, a file, a pipe or a webcam number"
        )


def open_source(source: str | int):
    """Open a file, stream URL, pipe or webcam with PyAV; return the container.

    A webcam is a device number (``0``): ``/dev/video0`` through v4l2 on Linux, AVFoundation on
    macOS, DirectShow (``video=0``) on Windows.

    Raises:
        DecodeError: PyAV cannot open it (the message names the source and FFmpeg's reason).
    """
    import av

    from vidlab.data.io import DecodeError

    text = str(source)
    check_source(text)
    kwargs: dict = {}
    if text.isdigit():
        if sys.platform.startswith("linux"):
            text, kwargs["format"] = f"/dev/video{text}", "v4l2"
        elif sys.platform == "darwin":
            kwargs["format"] = "avfoundation"
        else:
            text, kwargs["format"] = f"video={text}", "dshow"
    scheme = text.split("://", 1)[0].lower() if "://" in text else None
    if scheme in ("rtsp", "rtsps"):
        kwargs["options"] = {"rtsp_transport": "tcp"}
    try:
        return av.open(text, **kwargs)
    except (av.FFmpegError, OSError) as err:
        raise DecodeError(f"{text}: cannot open it as a video or stream: {err}", text) from None


_BEFORE_SPATIAL = re.compile(r"(Init|Decode|Sample\w*)$")


def _short_side_of(pipeline: list) -> int | None:
    """The short side the test pipeline's first resize gives, or None: frames kept as decoded.

    Frames may be scaled before the pipeline only where its first spatial step is a ``Resize``
    to a size: with no ``Resize``, a crop or flip first, or a ``Resize`` by a factor, scaling
    them would change what the model sees (the long-video timeline and the detection demo both
    ask this).
    """
    for step in pipeline:
        name = str(step.get("type", "")).split(".")[-1].split(":")[-1]
        if name != "Resize":
            if _BEFORE_SPATIAL.search(name):
                continue  # opening, sampling, decoding: no pixels changed yet
            return None
        scale = step.get("scale")
        if isinstance(scale, (list, tuple)) and len(scale) == 2:
            if step.get("keep_ratio", True) and -1 in scale:
                return int(max(scale))
            return int(min(s for s in scale if s > 0))
        if isinstance(scale, int):
            return scale
        return None  # a factor: the pipeline scales what it gets
    return None


def _even(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    return frame[: h - h % 2, : w - w % 2]


class _Writer:
    """An H.264 MP4 written frame by frame with PyAV."""

    def __init__(self, path, fps: Fraction, width: int, height: int):
        import av

        self.container = av.open(os.fspath(path), "w")
        self.stream = self.container.add_stream("libx264", rate=fps)
        self.stream.width, self.stream.height = width - width % 2, height - height % 2
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"crf": "23", "preset": "veryfast"}

    def write(self, rgb: np.ndarray) -> None:
        import av

        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(_even(rgb)), format="rgb24")
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self) -> None:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()


def sliding_window(
    model,
    source,
    window="2s",
    stride="1s",
    top_k: int = 5,
    labels=None,
    timeline=None,
    out_video=None,
    short_side: int | None = None,
    max_frames: int | None = None,
    fps: float | None = None,
    on_window=None,
):
    """Classify a long video or a stream window by window, in constant memory.

    Args:
        model: From `init_recognizer` (PyTorch or onnxruntime backend).
        source: A video file, a stream URL (``rtsp://``, ...), a pipe, or a webcam number.
        window: Window length, frames or seconds (`parse_span`: ``64``, ``2s``).
        stride: Step between window starts, frames or seconds.
        top_k: Labels per window.
        labels: Label names (file or sequence).
        timeline: A ``.json`` file for the timeline, or None.
        out_video: An ``.mp4`` to write with the label and score drawn, or None.
        short_side: Short side of the frames kept for the model (default: that of the test
            pipeline's resize, so it resizes nothing again; as decoded without one).
        max_frames: Stop after this many frames (a webcam never ends).
        fps: The rate to assume where the source has none (default: 30).
        on_window: Called with each window's entry as it is made.

    Returns:
        ``dict(fps=..., window=frames, stride=frames, num_frames=..., num_windows=...)``.
    """
    from vidlab.data.io.convert import RGBConverter, output_size
    from vidlab.data.pipeline import Compose

    window, stride = parse_span(window), parse_span(stride)
    pipeline_cfg = _test_pipeline(model.cfg)
    pipeline = Compose(pipeline_cfg)
    short_side = short_side or _short_side_of(pipeline_cfg)  # None: as decoded
    container = open_source(source)
    stream = container.streams.video[0]
    rate = stream.average_rate or stream.guessed_rate or Fraction(fps or 30).limit_denominator()
    rate_f = float(rate)
    win, step = window.frames(rate_f), stride.frames(rate_f)
    device = device_of(model)
    converter = RGBConverter("bilinear")
    ring = None
    names = None
    writer = None
    current = ""
    count = num_windows = 0
    log = JsonStream(timeline, dict(source=str(source), fps=rate_f, window=win, stride=step))
    try:
        for frame in container.decode(stream):
            if ring is None:
                w, h = frame.width, frame.height
                if short_side is not None:
                    w, h = output_size(frame.width, frame.height, short_side)
                ring = np.empty((win, h, w, 3), np.uint8)  # the only frame memory kept
            converter.convert(frame, ring[count % win])
            if out_video is not None:
                rgb = frame.to_ndarray(format="rgb24")
                if writer is None:
                    writer = _Writer(out_video, rate, rgb.shape[1], rgb.shape[0])
            count += 1
            if count >= win and (count - win) % step == 0:
                order = np.arange(count - win, count) % win
                clips = prepare_clips(pipeline, ring[order])  # (V, C, T, H, W)
                with torch.inference_mode():
                    logits = model(clips.to(device))
                scores = scores_of(model, logits, clips.shape[0])[0].cpu()
                if names is None:
                    names = label_names_for(model, labels, scores.numel())
                top = torch.topk(scores, min(top_k, scores.numel()))
                entry = dict(
                    start_frame=count - win,
                    end_frame=count - 1,
                    start_s=round((count - win) / rate_f, 3),
                    end_s=round(count / rate_f, 3),
                    top_k=[
                        {"label": names[k], "label_id": k, "score": round(float(v), 6)}
                        for v, k in zip(top.values.tolist(), top.indices.tolist())
                    ],
                )
                log.add(entry)
                num_windows += 1
                best = entry["top_k"][0]
                current = f"{best['label']} {best['score']:.2f}"
                if on_window is not None:
                    on_window(entry)
            if writer is not None:
                from vidlab.draw import draw_text

                writer.write(draw_text(rgb, current) if current else rgb)
            if max_frames is not None and count >= max_frames:
                break
    finally:
        container.close()
        if writer is not None:
            writer.close()
        log.close()
    return dict(fps=rate_f, window=win, stride=step, num_frames=count, num_windows=num_windows)


class JsonStream:
    """``{...header, key: [...]}`` written one entry at a time: valid JSON once closed, and
    nothing held in memory (the timeline of a long video, the demo's keyframes)."""

    def __init__(self, path, header: dict, key: str = "windows"):
        self.file = None
        if path is not None:
            self.file = open(path, "w")  # noqa: SIM115 - closed in close()
            self.file.write(json.dumps(header)[:-1] + f", {json.dumps(key)}: [")
            self.first = True

    def add(self, entry: dict) -> None:
        if self.file is not None:
            self.file.write(("\n  " if self.first else ",\n  ") + json.dumps(entry))
            self.first = False
            self.file.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.write("\n]}\n")
            self.file.close()
