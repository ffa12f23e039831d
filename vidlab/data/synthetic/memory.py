"""The synthetic clips served from memory (:class:`SyntheticMotionDataset`), without files."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .files import _check_args, _num_val, _resolve_classes, _video_rng
from .render import render_clip


class SyntheticMotionDataset:
    """The synthetic clips served from memory, rendered on demand (no files, no decoding).

    Video ``i`` of a class is the clip that :func:`make_synthetic_dataset` encodes with the
    same ``seed``, ``num_frames`` and ``size`` (before compression). ``num_segments`` frames
    are sampled TSN-style: one per equal segment, at a random offset in training and at the
    segment centre in ``test_mode``.

    Each item is ``{"clips": uint8 (1, 3, num_segments, size, size), "label": int64 scalar,
    "index": int}``.

    Args:
        classes: Class names (subset of :data:`DEFAULT_CLASSES`), None for all.
        videos_per_class: Videos per class before the split.
        split: ``"train"``, ``"val"`` or ``"all"`` (the same split as the files).
        val_fraction: Fraction of each class in the validation split.
        num_frames: Frames per rendered video.
        num_segments: Frames sampled per item.
        size: Frame size.
        seed: Dataset seed.
        test_mode: Deterministic sampling (segment centres).
    """

    def __init__(
        self,
        classes: str | Iterable[str] | None = None,
        videos_per_class: int = 50,
        split: str = "train",
        val_fraction: float = 0.2,
        num_frames: int = 24,
        num_segments: int = 8,
        size: int = 64,
        seed: int = 0,
        test_mode: bool = False,
    ):
        self.classes = _resolve_classes(classes)
        _check_args(videos_per_class, val_fraction, num_frames, size, 12, seed)
        if split not in ("train", "val", "all"):
            raise ValueError(f"split must be 'train', 'val' or 'all', got {split!r}")
        if not 1 <= num_segments <= num_frames:
            raise ValueError(
                f"num_segments must be in [1, num_frames={num_frames}], got {num_segments}"
            )
        self.num_frames, self.num_segments, self.size = num_frames, num_segments, size
        self.seed, self.test_mode = seed, test_mode
        n_val = _num_val(videos_per_class, val_fraction)
        first, last = {
            "train": (0, videos_per_class - n_val),
            "val": (videos_per_class - n_val, videos_per_class),
            "all": (0, videos_per_class),
        }[split]
        self.records = [
            {"cls_name": c, "label": label, "video_index": i}
            for label, c in enumerate(self.classes)
            for i in range(first, last)
        ]
        self.labels = [r["label"] for r in self.records]

    def __len__(self) -> int:
        return len(self.records)

    def frame_indices(self) -> np.ndarray:
        """Indices of ``num_segments`` frames: one per equal segment (random offset in training)."""
        seg = self.num_frames / self.num_segments
        # NumPy's global generator, which the DataLoader seeds differently in every worker.
        offsets = 0.5 if self.test_mode else np.random.random(self.num_segments)
        return np.minimum(
            (np.arange(self.num_segments) + offsets) * seg, self.num_frames - 1
        ).astype(int)

    def __getitem__(self, index: int) -> dict:
        import torch

        record = self.records[index]
        frames = render_clip(
            record["cls_name"],
            _video_rng(self.seed, record["cls_name"], record["video_index"]),
            self.num_frames,
            self.size,
        )
        clip = frames[self.frame_indices()]  # (T, H, W, 3)
        clips = torch.from_numpy(np.ascontiguousarray(clip.transpose(3, 0, 1, 2)))[None]
        return {  # clips: (V=1, C, T, H, W)
            "clips": clips,
            "label": torch.tensor(record["label"], dtype=torch.int64),
            "index": index,
        }
