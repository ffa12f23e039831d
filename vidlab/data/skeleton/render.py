"""Draw a skeleton sequence into an MP4 (PyAV): what a skeleton model sees, made visible.

:func:`draw_skeletons` rasterizes keypoints ``(M, T, V, 2)`` (pixels of ``img_shape``) into
``(T, H, W, 3)`` uint8 frames with numpy alone: the layout's bones as lines, joints as dots,
each person in its own colour, left limbs lighter than right ones; joints whose score is at or
below ``score_thr`` (missing detections: coordinates and score 0) are not drawn, nor are their
bones. :func:`render_skeleton` writes a PoseDataset record (or arrays) to a video with
``vidlab.data.synthetic.encode.write_video``. :func:`render_dataset` renders every record of a
PoseDataset pickle to ``<video_dir>/<frame_dir>.mp4``: the RGB videos of an RGB + pose dataset
(RGBPoseConv3D's ``MMDecode`` reads them with ``data_prefix=dict(video=video_dir)``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from vidlab.data.skeleton.layouts import get_layout

# one colour per person (RGB), cycling
_COLOURS = ((255, 80, 60), (60, 160, 255), (80, 220, 100), (240, 200, 40))

__all__ = ["draw_skeletons", "render_dataset", "render_skeleton"]


def _disk(frame: np.ndarray, ys: np.ndarray, xs: np.ndarray, radius: int, colour) -> None:
    """Paint disks of ``radius`` at integer points (clipped to the frame)."""
    h, w = frame.shape[:2]
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if dy * dy + dx * dx > radius * radius:
                continue
            y, x = ys + dy, xs + dx
            keep = (y >= 0) & (y < h) & (x >= 0) & (x < w)
            frame[y[keep], x[keep]] = colour


def _line(frame: np.ndarray, p: np.ndarray, q: np.ndarray, thickness: int, colour) -> None:
    steps = int(np.ceil(np.abs(q - p).max())) + 1
    t = np.linspace(0.0, 1.0, steps)[:, None]
    pts = np.rint(p + (q - p) * t).astype(np.int64)  # (steps, 2) x, y
    _disk(frame, pts[:, 1], pts[:, 0], thickness, colour)


def draw_skeletons(
    keypoint: np.ndarray,
    img_shape: tuple[int, int],
    keypoint_score: np.ndarray | None = None,
    layout: str | Mapping = "coco",
    size: int | None = 256,
    score_thr: float = 0.0,
) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 frames of the skeletons on a dark background.

    Args:
        keypoint: ``(M, T, V, C)`` coordinates in pixels of ``img_shape`` (x, y first).
        img_shape: ``(height, width)`` the keypoints are in.
        keypoint_score: ``(M, T, V)`` scores; None: every joint drawn.
        layout: The keypoint layout (``'coco'``, ``'nturgb+d'``, ``'openpose'`` or a dict).
        size: Longer side of the output frames (the aspect ratio kept, sides made even);
            None: ``img_shape``.
        score_thr: Joints with a score at or below this are not drawn.
    """
    keypoint = np.asarray(keypoint, dtype=np.float64)
    if keypoint.ndim != 4 or keypoint.shape[-1] < 2:
        raise ValueError(f"keypoint must be (M, T, V, C>=2), got shape {keypoint.shape}")
    spec = get_layout(layout)
    m, t, v, _ = keypoint.shape
    if v != spec.num_node:
        raise ValueError(f"keypoint has {v} joints but layout {spec.name!r} has {spec.num_node}")
    h, w = int(img_shape[0]), int(img_shape[1])
    scale = 1.0 if size is None else size / max(h, w)
    out_h, out_w = 2 * max(1, round(h * scale / 2)), 2 * max(1, round(w * scale / 2))
    xy = keypoint[..., :2] * np.array([out_w / w, out_h / h])
    visible = np.ones((m, t, v), bool) if keypoint_score is None else keypoint_score > score_thr
    left = set(spec.left)
    radius = max(1, round(max(out_h, out_w) / 128))
    frames = np.full((t, out_h, out_w, 3), 24, np.uint8)
    for person in range(m):
        colour = np.array(_COLOURS[person % len(_COLOURS)])
        light = np.minimum(colour + 90, 255)
        for f in range(t):
            for child, parent in spec.inward:
                if visible[person, f, child] and visible[person, f, parent]:
                    c = light if child in left else colour
                    _line(frames[f], xy[person, f, child], xy[person, f, parent], radius, c)
            pts = np.rint(xy[person, f][visible[person, f]]).astype(np.int64)
            _disk(frames[f], pts[:, 1], pts[:, 0], radius + 1, (255, 255, 255))
    return frames


def render_skeleton(
    sample: Mapping,
    path: str | os.PathLike,
    fps: float = 15,
    layout: str | Mapping | None = None,
    size: int | None = 256,
) -> Path:
    """Write one skeleton sample to a video file (MP4 by the extension) with PyAV.

    Args:
        sample: A PoseDataset record: ``keypoint`` ``(M, T, V, C)``, ``img_shape`` and
            optionally ``keypoint_score`` (``vidlab.inference.skeleton_record`` reads one).
        path: The output file.
        fps: Frames per second.
        layout: The keypoint layout; None: by the number of joints (17 COCO, 25 NTU, 18
            OpenPose).
        size: Longer side of the frames.

    Raises:
        ImportError: PyAV is not installed.
    """
    from vidlab.data.synthetic.encode import write_video

    keypoint = np.asarray(sample["keypoint"])
    if layout is None:
        layout = {17: "coco", 25: "nturgb+d", 18: "openpose"}.get(keypoint.shape[2])
        if layout is None:
            raise ValueError(f"no layout has {keypoint.shape[2]} joints; pass layout=")
    img_shape = sample.get("img_shape")
    if img_shape is None:  # normalized coordinates: fit the bounding box
        img_shape = (
            int(np.ceil(keypoint[..., 1].max())) + 1,
            int(np.ceil(keypoint[..., 0].max())) + 1,
        )
    frames = draw_skeletons(keypoint, img_shape, sample.get("keypoint_score"), layout, size)
    return write_video(path, frames, fps=fps)


def render_dataset(
    ann_file: str | os.PathLike,
    video_dir: str | os.PathLike,
    fps: float = 15,
    size: int | None = 64,
    layout: str | Mapping | None = None,
) -> list[Path]:
    """Render every record of a PoseDataset pickle to ``video_dir/<frame_dir>.mp4``.

    The frames are the stick figures at ``size`` pixels on the longer side: smaller than the
    records' ``img_shape`` is fine, as ``MMDecode`` scales the keypoints to the decoded frames.

    Args:
        ann_file: The pickle (``{"split", "annotations"}`` or a list of records).
        video_dir: Where the videos go (created).
        fps: Frames per second.
        size: Longer side of the frames; None: each record's ``img_shape``.
        layout: The keypoint layout; None: by the number of joints.

    Returns:
        The written files, in record order.
    """
    from vidlab.checkpoint import load_pickle

    data = load_pickle(ann_file, "skeleton annotations")
    records = data["annotations"] if isinstance(data, dict) else data
    video_dir = Path(video_dir)
    video_dir.mkdir(parents=True, exist_ok=True)
    return [
        render_skeleton(rec, video_dir / f"{rec['frame_dir']}.mp4", fps, layout, size)
        for rec in records
    ]
