"""Synthetic untrimmed videos with action segments, for temporal localization without downloads.

Each video strings together clips of the motion dataset's renderer: "background" stretches
(an object drifting left, right, up or down) and "action" segments (an object growing or
shrinking), each with its own random object and scene. The annotation file is MMAction2's
ActivityNet format (``duration_second``, ``duration_frame``, ``feature_frame``, and the action
segments in seconds), so the videos go through ``vidlab extract-features`` and then any
localizer config (``ActivityNetDataset``). Deterministic: same arguments, same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .encode import write_video
from .render import render_clip

__all__ = ["make_untrimmed_dataset"]

BACKGROUND = ("move_left", "move_right", "move_up", "move_down")
ACTIONS = ("grow", "shrink")


def _video(rng: np.random.Generator, size: int, segments: int, frames: tuple[int, int]):
    """Frames and action segments (frame ranges) of one video: background and action stretches
    alternate, starting and ending with background."""
    parts, actions, at = [], [], 0
    for i in range(2 * segments + 1):
        n = int(rng.integers(frames[0], frames[1] + 1))
        kind = ACTIONS if i % 2 else BACKGROUND
        name = kind[int(rng.integers(len(kind)))]
        parts.append(render_clip(name, rng, n, size))
        if i % 2:
            actions.append((at, at + n, name))
        at += n
    return np.concatenate(parts), actions


def make_untrimmed_dataset(
    root,
    videos: int = 60,
    val_fraction: float = 0.25,
    size: int = 32,
    fps: int = 12,
    segments: tuple[int, int] = (1, 3),
    frames: tuple[int, int] = (12, 30),
    seed: int = 0,
) -> dict:
    """Write ``videos/*.mp4``, ``train.json``, ``val.json`` (ActivityNet format) under ``root``.

    Args:
        root: The output folder (reused when ``meta.json`` there names the same arguments).
        videos: Number of videos.
        val_fraction: The share of them in ``val.json``.
        size: Frame side in pixels.
        fps: Frame rate of the files.
        segments: Inclusive range of action segments per video.
        frames: Inclusive range of frames per stretch (action or background).
        seed: Random seed.

    Returns:
        ``dict(root, train, val, videos, reused)``.
    """
    root = Path(root)
    args = dict(
        videos=videos,
        val_fraction=val_fraction,
        size=size,
        fps=fps,
        segments=list(segments),
        frames=list(frames),
        seed=seed,
        version=1,
    )
    meta = root / "meta.json"
    if meta.exists() and json.loads(meta.read_text()) == args:
        return dict(
            root=str(root),
            train=str(root / "train.json"),
            val=str(root / "val.json"),
            videos=str(root / "videos"),
            reused=True,
        )
    (root / "videos").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    database = {}
    for v in range(videos):
        name = f"v_untrimmed_{v:04d}"
        n_seg = int(rng.integers(segments[0], segments[1] + 1))
        pixels, actions = _video(rng, size, n_seg, frames)
        write_video(root / "videos" / f"{name}.mp4", pixels, fps=fps)
        database[name] = dict(
            duration_second=len(pixels) / fps,
            duration_frame=len(pixels),
            feature_frame=len(pixels),
            fps=float(fps),
            annotations=[dict(segment=[s / fps, e / fps], label=label) for s, e, label in actions],
        )
    names = sorted(database)
    n_val = max(1, round(videos * val_fraction))
    splits = {"val": names[:n_val], "train": names[n_val:]}
    for split, keys in splits.items():
        (root / f"{split}.json").write_text(json.dumps({k: database[k] for k in keys}, indent=1))
    meta.write_text(json.dumps(args))
    return dict(
        root=str(root),
        train=str(root / "train.json"),
        val=str(root / "val.json"),
        videos=str(root / "videos"),
        reused=False,
    )
