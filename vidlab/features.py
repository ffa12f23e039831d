"""Snippet features of whole videos for temporal localization (``vidlab extract-features``).

MMAction2's ``tools/misc/clip_feature_extraction.py`` in its long-video mode, for the
localizers' input: every ``stride`` frames, a window of ``window`` frames goes through the
recognizer's test pipeline (as a short video: its sampling, resize and crops) and its pooled
features (``forward_head(..., pre_logits=True)``, views averaged) become one row. Optionally
the rows are resampled to ``temporal_dim`` rows by linear interpolation between window centres,
as ActivityNet's 100-snippet features are (``csv_mean_100``: MMAction2's BMN input).

Each video gives ``<name>.csv`` (a header line, one row per snippet: what
``LoadLocalizationFeature`` reads) and a record of its ActivityNet annotation fields
(``duration_second``, ``duration_frame``, ``feature_frame``: the frames the windows covered),
which ``vidlab extract-features --ann-out`` collects into an annotation file whose
``annotations`` lists are left for the user's segments.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

__all__ = ["extract_features", "extract_many", "resample_rows", "write_feature_csv"]


def resample_rows(rows: np.ndarray, centres: np.ndarray, num_frames: int, temporal_dim: int):
    """``(W, D)`` rows at frame ``centres`` -> ``(temporal_dim, D)`` at the centres of
    ``temporal_dim`` equal parts of ``[0, num_frames)``, linearly interpolated (constant beyond
    the first and last window)."""
    targets = (np.arange(temporal_dim) + 0.5) * num_frames / temporal_dim
    return np.stack([np.interp(targets, centres, rows[:, d]) for d in range(rows.shape[1])], 1)


@torch.inference_mode()
def extract_features(
    model,
    video,
    window: int = 16,
    stride: int = 16,
    temporal_dim: int | None = None,
    batch: int = 8,
):
    """Features of one video.

    Args:
        model: A recognizer from ``init_recognizer`` (its config's test pipeline is used).
        video: A video file or frame folder.
        window: Frames per snippet.
        stride: Frames between snippet starts.
        temporal_dim: Resample to this many rows (None: one row per window).
        batch: Windows run through the model at once.

    Returns:
        ``(features float32 (rows, D), info)``: ``info`` has ``duration_frame``,
        ``duration_second``, ``feature_frame`` (frames covered by windows), ``fps`` and
        ``windows``.

    Raises:
        ValueError: ``window``/``stride`` not positive, or the video has no frame.
    """
    from vidlab.data.io import open_video, probe
    from vidlab.data.pipeline import Compose
    from vidlab.inference import _test_pipeline, device_of, prepare_clips

    if window < 1 or stride < 1:
        raise ValueError(f"window={window} and stride={stride} must be positive frame counts")
    info = probe(video)
    n = int(info.num_frames)
    if n < 1:
        raise ValueError(f"{video}: no frames to extract features from")
    starts = list(range(0, max(n - window, 0) + 1, stride))
    pipeline = Compose(_test_pipeline(model.cfg))
    device = device_of(model)
    rows = []
    with open_video(video) as reader:
        for first in range(0, len(starts), batch):
            group = starts[first : first + batch]
            clips = [
                prepare_clips(pipeline, reader.read(np.minimum(np.arange(s, s + window), n - 1)))
                for s in group
            ]  # each (V, C, T, H, W)
            views = clips[0].shape[0]
            x = torch.cat(clips).to(device)  # (B*V, C, T, H, W)
            feats = model.forward_head(model.forward_features(x), pre_logits=True)  # (B*V, D)
            rows.append(feats.float().reshape(len(group), views, -1).mean(1).cpu().numpy())
    features = np.concatenate(rows)  # (W, D)
    covered = min(starts[-1] + window, n)
    if temporal_dim:
        centres = np.array(starts, dtype=np.float64) + min(window, n) / 2
        features = resample_rows(features, centres, covered, temporal_dim)
    fps = float(info.fps) if info.fps else 30.0
    meta = dict(
        duration_frame=n,
        duration_second=round(n / fps, 6),
        feature_frame=covered,
        fps=fps,
        windows=len(starts),
    )
    return features.astype(np.float32), meta


def write_feature_csv(path, features: np.ndarray) -> None:
    """``features (rows, D)`` as ``LoadLocalizationFeature`` reads them (a header line)."""
    header = ",".join(f"f{i}" for i in range(features.shape[1]))
    np.savetxt(path, features, delimiter=",", header=header, comments="", fmt="%.6g")


def extract_many(model, videos, out_dir, ann_out=None, progress: bool = True, **kwargs) -> dict:
    """``extract_features`` of every video into ``out_dir/<name>.csv`` (name: the file stem, or
    the folder's name); the annotation records (``annotations`` empty) into ``ann_out``."""
    from tqdm import tqdm

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    database = {}
    for video in tqdm(videos, desc="features", unit="video", disable=not progress):
        name = Path(os.fspath(video)).stem if Path(video).is_file() else Path(video).name
        if name in database:
            raise ValueError(f"two inputs are named {name!r}: their feature files would collide")
        features, meta = extract_features(model, video, **kwargs)
        write_feature_csv(out_dir / f"{name}.csv", features)
        database[name] = {**meta, "annotations": []}
    if ann_out:
        Path(ann_out).write_text(json.dumps(database, indent=1))
    return database
