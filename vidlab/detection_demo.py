"""The spatio-temporal detection demo: person boxes and their actions drawn on a video over time.

``vidlab infer --task detection CONFIG CKPT VIDEO --out annotated.mp4 [--json out.json]``.
Frames are decoded one at a time with PyAV; every ``stride`` frames (1 s by default, AVA's
keyframe rate) a keyframe gets its person boxes (from a proposals pickle in MMAction2's format,
or from a person detector called on the keyframe), and the detector runs on the clip around it
(the config's ``SampleAVAFrames`` ``clip_len`` x ``frame_interval``, in the video's frames).
Each output frame shows the boxes and top actions of its nearest keyframe. Memory is constant:
a ring of one clip span of model-sized frames, and the output frames that wait for their
keyframe's result (half a stride plus half a clip span).

The detector is the seam of ``vidlab.tasks.detection``: ``model(clips=(N, C, T, H, W) raw
pixels, proposals=[(m, 4) pixels])`` in eval mode, then
``model.results(outputs, metas)`` -> per keyframe ``dict(bboxes=(k, 4) in [0, 1], scores=(k,
num_classes))``.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from vidlab.checkpoint import load_pickle

__all__ = ["ProposalFile", "detect_video", "draw_box", "read_label_map", "sampling_of"]

# Box colours, one per person of a keyframe (cycled): bright, far apart.
_COLORS = ((255, 64, 64), (64, 200, 255), (255, 210, 0), (90, 255, 90), (255, 90, 255))


def read_label_map(path) -> dict[int, str]:
    """``{id: name}`` of an AVA label map (``.pbtxt``), read by
    :func:`vidlab.data.ava.read_labelmap`."""
    from vidlab.data.ava import read_labelmap

    names = {item["id"]: item["name"] for item in read_labelmap(path)[0]}
    if not names:
        raise ValueError(f"{path}: no 'name:' / 'id:' items; expected an AVA label map (.pbtxt)")
    return names


class ProposalFile:
    """Person boxes from MMAction2's proposal pickle (``{"vid,0902": (n, 4|5)}``, relative
    ``x1, y1, x2, y2[, score]``), keyed by the keyframe's ``video_id`` and whole second.

    Args:
        path: The pickle.
        score_thr: Keep boxes scoring at least this (MMAction2's ``person_det_score_thr``).
    """

    def __init__(self, path, score_thr: float = 0.9):
        self.boxes = load_pickle(path, "a proposal pickle")
        self.path, self.score_thr = str(path), score_thr

    def __call__(self, video_id: str, timestamp: int, frame: np.ndarray) -> np.ndarray:
        boxes = np.asarray(self.boxes.get(f"{video_id},{timestamp:04d}", np.zeros((0, 5))))
        if boxes.shape[-1] == 4:
            boxes = np.concatenate([boxes, np.ones((len(boxes), 1))], axis=1)
        return boxes[boxes[:, 4] >= self.score_thr].astype(np.float32).reshape(-1, 5)


def sampling_of(cfg) -> tuple[int, int]:
    """``(clip_len, frame_interval)`` of the test pipeline's ``SampleAVAFrames``."""
    pipeline = cfg.get("test_dataloader", cfg.get("val_dataloader", {}))["dataset"]["pipeline"]
    for step in pipeline:
        if str(step.get("type", "")).split(".")[-1].split(":")[-1] == "SampleAVAFrames":
            return int(step["clip_len"]), int(step.get("frame_interval", 2))
    raise ValueError("the config's test pipeline has no SampleAVAFrames; give clip_len/interval")


def draw_box(frame: np.ndarray, box, color, thickness: int = 2) -> np.ndarray:
    """Draw a rectangle ``x1, y1, x2, y2`` (pixels) on an RGB frame in place."""
    h, w = frame.shape[:2]
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    x1, x2 = max(0, min(x1, w - 1)), max(0, min(x2, w))
    y1, y2 = max(0, min(y1, h - 1)), max(0, min(y2, h))
    t = max(1, thickness)
    frame[y1 : y1 + t, x1:x2] = color
    frame[max(y1, y2 - t) : y2, x1:x2] = color
    frame[y1:y2, x1 : x1 + t] = color
    frame[y1:y2, max(x1, x2 - t) : x2] = color
    return frame


def _upscale(frame: np.ndarray, min_side: int) -> np.ndarray:
    """Small frames repeated to at least ``min_side`` (an integer factor), so that boxes and
    text stay readable on a 64-pixel video."""
    factor = -(-min_side // min(frame.shape[:2]))
    return frame.repeat(factor, 0).repeat(factor, 1) if factor > 1 else frame


def _draw(frame: np.ndarray, persons: list[dict]) -> np.ndarray:
    """Each person's box and actions (above the box where there is room, else inside it)."""
    from vidlab.draw import GLYPH_HEIGHT, draw_text

    h, w = frame.shape[:2]
    scale = max(1, min(h, w) // 240)
    line = (GLYPH_HEIGHT + 3) * scale
    for i, person in enumerate(persons):
        color = _COLORS[i % len(_COLORS)]
        x1, y1, x2, y2 = np.asarray(person["box"]) * [w, h, w, h]
        draw_box(frame, (x1, y1, x2, y2), color, thickness=max(1, min(h, w) // 180))
        n = len(person["actions"])
        top = int(y1) - n * line if y1 >= n * line else int(y1)
        for j, action in enumerate(person["actions"]):
            text = f"{action['label']} {action['score']:.2f}"
            draw_text(frame, text, (int(x1), top + j * line), scale, (0, 0, 0), color)
    return frame


def detect_video(
    model,
    source,
    persons: Callable[[str, int, np.ndarray], np.ndarray],
    *,
    out_video=None,
    json_out=None,
    labels: dict[int, str] | None = None,
    clip_len: int | None = None,
    frame_interval: int | None = None,
    stride: int | None = None,
    short_side: int | None = None,
    score_thr: float = 0.5,
    top_k: int = 3,
    video_id: str | None = None,
    timestamp_start: int = 0,
    max_frames: int | None = None,
    out_min_side: int = 256,
    on_keyframe: Callable[[dict], None] | None = None,
) -> dict:
    """Detect and draw the actions of the people in a video, in constant memory.

    Args:
        model: A detector with the seam above (``model.cfg`` gives the sampling and the
            frame size unless given here).
        source: A video file (anything :func:`vidlab.long_video.open_source` opens).
        persons: ``persons(video_id, timestamp, rgb_keyframe) -> (n, 5)`` relative
            ``x1, y1, x2, y2, score`` boxes (a :class:`ProposalFile`, or a person detector).
        out_video: An MP4 to write with the boxes and actions drawn, or None.
        json_out: A JSON file for the keyframes' boxes and actions, or None.
        labels: ``{column: name}`` of the score columns (default: ``action_<column>``).
        clip_len, frame_interval: The clip around a keyframe (default: the config's).
        stride: Frames between keyframes (default: one second of the video).
        short_side: Frames go to the model at this short side (default: that of the test
            pipeline's ``Resize``; without one, as decoded).
        score_thr: Actions scoring below this are not drawn or listed.
        top_k: At most this many actions per person.
        video_id: The id used to look up proposals (default: the file's stem).
        timestamp_start: The timestamp of the video's first frame (AVA: 900), in seconds.
        max_frames: Stop after this many frames.
        out_min_side: The annotated video's frames are enlarged (by an integer factor) to at
            least this short side, so text stays readable on small videos.
        on_keyframe: Called with each keyframe's entry.

    Returns:
        ``dict(fps, num_frames, num_keyframes, clip_len, frame_interval, stride,
        most_frames_held)``: the last is the most full-size frames held at once (besides the
        ring of one clip span), bounded by the stride and the clip, not the video's length.
    """
    from vidlab.data.io.convert import RGBConverter, output_size
    from vidlab.inference import _test_pipeline, device_of
    from vidlab.long_video import JsonStream, _short_side_of, _Writer, open_source

    cfg = getattr(model, "cfg", None)
    if clip_len is None or frame_interval is None:
        sampled = sampling_of(cfg)
        clip_len, frame_interval = clip_len or sampled[0], frame_interval or sampled[1]
    if short_side is None and cfg is not None:
        short_side = _short_side_of(_test_pipeline(cfg))  # None: as decoded
    video_id = video_id or Path(os.fspath(source)).stem
    container = open_source(source)
    stream = container.streams.video[0]
    rate = stream.average_rate or stream.guessed_rate or Fraction(30)
    fps = float(rate)
    stride = stride or max(1, round(fps))
    # Clip of keyframe k: k + offsets (MMAction2's SampleAVAFrames in test mode).
    offsets = (np.arange(clip_len) - clip_len // 2) * frame_interval
    span = int(offsets[-1] - offsets[0]) + 1
    ring = None
    converter = RGBConverter("bilinear")
    params = model.parameters() if isinstance(model, torch.nn.Module) else iter(())
    device = device_of(model) if next(params, None) is not None else torch.device("cpu")
    writer = None
    waiting: deque = deque()  # (index, rgb) of output frames whose keyframe is not done yet
    results: dict[int, list] = {}  # keyframe -> persons, dropped once no frame needs it
    pending: deque = deque()  # (keyframe, rgb keyframe) whose clip is not complete yet
    log = JsonStream(
        json_out, dict(source=str(source), fps=fps, stride=stride, clip_len=clip_len), "keyframes"
    )
    count = 0
    names = labels or {}

    def run(k: int, keyframe_rgb: np.ndarray, last: int) -> None:
        idx = np.clip(k + offsets, max(0, last - span + 1), last)
        clip = ring[idx % span]  # (T, h, w, 3)
        h, w = clip.shape[1:3]
        timestamp = timestamp_start + int(round(k / fps))
        boxes = persons(video_id, timestamp, keyframe_rgb)
        found = []
        if len(boxes):
            clips = torch.from_numpy(clip).permute(3, 0, 1, 2)[None].float()  # (1, C, T, h, w)
            rois = torch.from_numpy(np.asarray(boxes[:, :4], np.float32) * [w, h, w, h]).float()
            meta = dict(
                video_id=video_id,
                timestamp=timestamp,
                img_key=f"{video_id},{timestamp:04d}",
                img_shape=(h, w),
                ori_shape=keyframe_rgb.shape[:2],
            )
            with torch.inference_mode():
                outputs = model(clips=clips.to(device), proposals=[rois.to(device)])
                result = model.results(outputs, [meta])[0]
            for box, scores in zip(
                np.asarray(result["bboxes"], np.float32), np.asarray(result["scores"], np.float32)
            ):
                order = np.argsort(-scores[1:])[:top_k] + 1  # column 0 is "a person"
                actions = [
                    dict(
                        label=names.get(int(c), f"action_{int(c)}"),
                        label_id=int(c),
                        score=round(float(scores[c]), 4),
                    )
                    for c in order
                    if scores[c] >= score_thr
                ]
                found.append(dict(box=[round(float(v), 4) for v in box], actions=actions))
        entry = dict(frame=k, time_s=round(k / fps, 3), timestamp=timestamp, persons=found)
        log.add(entry)
        results[k] = found
        if on_keyframe is not None:
            on_keyframe(entry)

    def flush(done_until: int, last_key: int | None = None) -> None:
        """Write the waiting frames whose nearest keyframe is done (<= done_until); at the end
        (``last_key``), frames past the last keyframe take that one."""
        while waiting:
            index, rgb = waiting[0]
            nearest = int(round(index / stride)) * stride
            if last_key is not None:
                nearest = min(nearest, last_key)
            if nearest > done_until:
                break
            waiting.popleft()
            if writer is not None:
                writer.write(_draw(_upscale(rgb, out_min_side), results.get(nearest, [])))
            for old in [k for k in results if k < nearest]:
                del results[old]

    num_keyframes, done, most_waiting = 0, -1, 0
    try:
        for frame in container.decode(stream):
            if ring is None:
                w, h = frame.width, frame.height  # no Resize in the test pipeline: as decoded
                if short_side is not None:
                    w, h = output_size(frame.width, frame.height, short_side)
                ring = np.empty((span, h, w, 3), np.uint8)
            converter.convert(frame, ring[count % span])
            rgb = frame.to_ndarray(format="rgb24")
            if out_video is not None and writer is None:
                big = _upscale(rgb, out_min_side)
                writer = _Writer(out_video, rate, big.shape[1], big.shape[0])
            if count % stride == 0:
                pending.append((count, rgb))
            waiting.append((count, rgb))
            most_waiting = max(most_waiting, len(waiting) + len(pending))
            while pending and pending[0][0] + offsets[-1] <= count:
                done = pending[0][0]
                run(*pending.popleft(), last=count)
                num_keyframes += 1
            flush(done)
            count += 1
            if max_frames is not None and count >= max_frames:
                break
        while pending:  # keyframes near the end: their clips repeat the last frame
            run(*pending.popleft(), last=count - 1)
            num_keyframes += 1
        flush(count, last_key=(count - 1) // stride * stride)
    finally:
        container.close()
        if writer is not None:
            writer.close()
        log.close()
    return dict(
        fps=fps,
        num_frames=count,
        num_keyframes=num_keyframes,
        clip_len=clip_len,
        frame_interval=frame_interval,
        stride=stride,
        most_frames_held=most_waiting,
    )
